#!/usr/bin/env bash
# tessera-client figures (BENCHMARKS.md, "The client crate"):
#
#   scripts/bench-client.sh [OUTDIR]   release build; N=500 revocations,
#                                      criterion local-verification rates
#   scripts/bench-client.sh --smoke    debug build, 20 revocations, no criterion
#
# Starts its own redis-server, Tessera and the `guard` example on free
# loopback ports; benches/tools/bench_propagation.rs revokes N tokens one
# after another and times each revoke's 200 to the guard's first 401 while
# LOAD connections keep the guard busy with a live token. Then (full run)
# client/benches/local_verify.rs: a seen-before token, a first-seen token and
# raw jsonwebtoken verification of the same tokens. Last, the guard under
# load against the no-op endpoint (benches/tools/noop.rs), interleaved:
# ROUNDS rounds of wrk on the no-op server then on the guard's /whoami with
# a live token. Writes one JSON file to OUTDIR (default bench-results/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full
OUTDIR=bench-results
case "${1:-}" in
  --smoke) MODE=smoke ;;
  "") ;;
  *) OUTDIR=$1 ;;
esac
if [ "$MODE" = smoke ]; then
  N=20; LOAD=2; PROFILE_FLAG=(); PROFILE_DIR=debug; ROUNDS=1; RUN=1s
else
  N=${BENCH_REVOCATIONS:-500}; LOAD=${BENCH_GUARD_LOAD:-8}; PROFILE_FLAG=(--release); PROFILE_DIR=release
  ROUNDS=${BENCH_ROUNDS:-3}; RUN=${BENCH_RUN:-8s}
fi
SECRET=bench-secret-0123456789
CORES=$(nproc)

for tool in redis-server wrk curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench-client.sh: $tool is needed (scripts/bench.sh installs it)" >&2; exit 1; }
done

echo "bench-client.sh: building ($PROFILE_DIR)"
cargo build --locked "${PROFILE_FLAG[@]}" --bin tessera --example noop
cargo build --locked "${PROFILE_FLAG[@]}" -p tessera-client --example guard --example bench_propagation
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE_DIR
TESSERA=$BIN/tessera

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-client.sh: nothing listens on $1" >&2
  return 1
}

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"

"$TESSERA" keygen --out "$WORK/bench.pem" >/dev/null
HASH=$(printf '%s' "$SECRET" | "$TESSERA" hash-secret)
TESSERA_PORT=$(free_port)
cat >"$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$TESSERA_PORT", workers: $CORES }
issuer: "https://tessera.bench"
redis: { url: "redis://127.0.0.1:$REDIS_PORT", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys:
  - { kid: "bench", path: "$WORK/bench.pem", alg: "EdDSA", status: "active" }
clients:
  - { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 }
logging: { config: "$ROOT/log4rs.yaml" }
YAML
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec "$TESSERA" serve \
  >"$WORK/tessera.out" 2>&1) &
PIDS+=($!)
wait_port "$TESSERA_PORT"
BASE="http://127.0.0.1:$TESSERA_PORT"

GUARD_PORT=$(free_port)
TESSERA_URL=$BASE TESSERA_JWKS_URL=$BASE/.well-known/jwks.json TESSERA_CLIENT_ID=bench \
  TESSERA_CLIENT_SECRET=$SECRET LISTEN=127.0.0.1:$GUARD_PORT MAX_STALENESS_SECS=15 \
  "$BIN/examples/guard" >"$WORK/guard.out" 2>&1 &
PIDS+=($!)
wait_port "$GUARD_PORT"

echo "bench-client.sh: propagation, $N revocations, guard under $LOAD connections of load"
PROP_JSON=$("$BIN/examples/bench_propagation" "$BASE" "http://127.0.0.1:$GUARD_PORT/whoami" \
  bench "$SECRET" "$N" "$LOAD")
echo "propagation: $PROP_JSON"

MICRO_JSON=null
if [ "$MODE" = full ]; then
  echo "bench-client.sh: criterion, local verification"
  cargo bench --locked -p tessera-client --bench local_verify -- \
    --warm-up-time 1 --measurement-time 3 --noplot >"$WORK/criterion.txt" 2>&1 ||
    { cat "$WORK/criterion.txt" >&2; exit 1; }
  MICRO_JSON=$(awk '
    !/time:/ && /^[a-z0-9_]+ *$/ { name=$1 }
    /time:/ { if ($0 !~ /^ /) name=$1; sub(/.*time: *\[/, ""); split($0, a, " ");
              v=a[3]; u=a[4]; ns = (u=="ns") ? v : (u=="µs"||u=="us") ? v*1000 : (u=="ms") ? v*1e6 : v;
              if (name != "") { printf "%s\"%s\": %.1f", sep, name, ns; sep=", " } }
    BEGIN { printf "{" } END { printf "}" }' "$WORK/criterion.txt")
  echo "micro (ns, median): $MICRO_JSON"
fi

# The guard vs the no-op endpoint, interleaved, wrk -t2 -c64 with a live
# token (the guard verifies it locally: a cache hit after the first).
echo "bench-client.sh: guard vs no-op, $ROUNDS rounds of $RUN"
NOOP_PORT=$(free_port)
"$BIN/examples/noop" "127.0.0.1:$NOOP_PORT" "$CORES" &
PIDS+=($!)
wait_port "$NOOP_PORT"
TOKEN=$(curl -fsS -u "bench:$SECRET" -H 'Content-Type: application/json' \
  -d '{"sub": "guard-load"}' "$BASE/token/issue" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
rps_of() { wrk -t2 -c64 -d"$RUN" "$@" | awk '/^Requests\/sec:/ {print $2}'; }
NOOP_RUNS=(); GUARD_RUNS=()
for _ in $(seq "$ROUNDS"); do
  NOOP_RUNS+=("$(rps_of "http://127.0.0.1:$NOOP_PORT/healthz")")
  GUARD_RUNS+=("$(rps_of -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GUARD_PORT/whoami")")
done
GUARD_STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GUARD_PORT/whoami")
[ "$GUARD_STATUS" = 200 ] || { echo "bench-client.sh: the guard answered $GUARD_STATUS to the load token" >&2; exit 1; }
GUARD_JSON=$(printf '%s\n' "${NOOP_RUNS[@]}" | paste -sd, | awk -v g="$(printf '%s\n' "${GUARD_RUNS[@]}" | paste -sd,)" '
  { n = split($0, a, ","); m = split(g, b, ","); sa = 0; sb = 0
    for (i = 1; i <= n; i++) sa += a[i]; for (i = 1; i <= m; i++) sb += b[i]
    printf "{\"noop_rps\": [%s], \"guard_rps\": [%s], \"guard_over_noop\": %.3f}", $0, g, (sb / m) / (sa / n) }')
echo "guard vs no-op: $GUARD_JSON"

mkdir -p "$OUTDIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo "+dirty" || true)
OUT=$OUTDIR/client-$MODE-$STAMP.json
{
  printf '{"mode": "%s", "date": "%s", "commit": "%s%s", "cores": %s, "cpu": "%s", "loadavg": "%s",\n' \
    "$MODE" "$STAMP" "$COMMIT" "$DIRTY" "$CORES" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf ' "propagation": %s,\n' "$PROP_JSON"
  printf ' "guard_vs_noop": %s,\n' "$GUARD_JSON"
  printf ' "micro_ns": %s}\n' "$MICRO_JSON"
} >"$OUT"
echo "bench-client.sh: wrote $OUT"
