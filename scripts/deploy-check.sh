#!/usr/bin/env bash
# Checks the deployment files (docs/deploy.md), all offline:
#   - deploy/kubernetes/*.yaml with kubernetes-validate --strict (unknown
#     fields refused), against the default Kubernetes version and 1.30, the
#     oldest with the preStop sleep action the Deployment uses;
#   - the ConfigMap's log4rs.container.yaml is the repository's file;
#   - the ConfigMap's config.yaml passes `tessera check-config` in prod (its
#     secret paths pointed at a throwaway key and password file);
#   - deploy/prometheus/rules.yml: promtool check rules and its unit tests;
#   - deploy/grafana/tessera.json is JSON with a query in every panel
#     (tests/api/prometheus.rs runs those queries against a real Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

VENV="$(./scripts/ops-venv.sh)"
if ! command -v promtool >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
fi

manifests=()
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
"$VENV/bin/kubernetes-validate" --strict --quiet "${manifests[@]}"
"$VENV/bin/kubernetes-validate" --strict --quiet -k 1.30.0 "${manifests[@]}"
# Every manifest is listed in the kustomization.
for f in "${manifests[@]}"; do
  grep -q "^  - $(basename "$f")$" deploy/kubernetes/kustomization.yaml ||
    { echo "deploy-check: $f is not in deploy/kubernetes/kustomization.yaml" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$VENV/bin/python" - "$WORK" <<'PY'
import sys, yaml
work = sys.argv[1]
cm = yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))
for name, text in cm["data"].items():
    open(f"{work}/{name}", "w").write(text)
PY
diff -u log4rs.container.yaml "$WORK/log4rs.container.yaml" ||
  { echo "deploy-check: the ConfigMap's log4rs.container.yaml differs from the repository's" >&2; exit 1; }
cargo build --locked --bin tessera
BIN="$REPO/target/debug/tessera"
sed -e "s#/etc/tessera/secrets/#$WORK/#g" -e "s#/etc/tessera/#$WORK/#g" "$WORK/config.yaml" >"$WORK/check.yaml"
"$BIN" keygen --out "$WORK/signing.pem" >/dev/null
printf 'not-a-real-password' >"$WORK/redis-password"
(cd "$WORK" && env -u TESSERA_CONFIG TESSERA_ENV=prod "$BIN" check-config --config check.yaml >/dev/null)
echo "deploy-check: kubernetes manifests valid (strict, default version and 1.30), ConfigMap config passes check-config in prod"

promtool check rules deploy/prometheus/rules.yml
promtool test rules deploy/prometheus/rules_test.yml
"$VENV/bin/python" - <<'PY'
import json
dash = json.load(open("deploy/grafana/tessera.json"))
bad = [p.get("title") for p in dash["panels"] if not all(t.get("expr") for t in p.get("targets", [])) or not p.get("targets")]
if bad:
    raise SystemExit(f"deploy-check: panels without a query: {bad}")
print(f"deploy-check: dashboard has {len(dash['panels'])} panels, each with a query")
PY
