#!/usr/bin/env bash
# What can be checked of the container without a Docker engine:
#   1. hadolint lints the Dockerfile;
#   2. the release binary is built the way the Dockerfile builds it
#      (cargo build --release --locked --bin tessera; stripped);
#   3. scripts/container_check.py runs the image's exact command line (its
#      ENV, WORKDIR, USER, ENTRYPOINT + CMD, read from the Dockerfile) with
#      /etc/tessera and /var/lib/tessera mirrored in a temp dir, against a
#      private redis-server, and checks /healthz, /readyz, the HEALTHCHECK
#      command, fail-closed readiness and a clean SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$(./scripts/ops-venv.sh)"
echo "container-check: hadolint Dockerfile"
"$VENV/bin/hadolint" Dockerfile

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "container-check: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "container-check: cargo build --release --locked --bin tessera"
start=$(date +%s)
cargo build --release --locked --bin tessera
echo "container-check: release build took $(( $(date +%s) - start )) s"
BIN="$PWD/target/release/tessera"
if readelf -S "$BIN" | grep -q '\.symtab'; then
  echo "container-check: $BIN is not stripped" >&2
  exit 1
fi
echo "container-check: stripped binary, $(( $(stat -c %s "$BIN") / 1024 )) KiB"

python3 scripts/container_check.py "$BIN"
