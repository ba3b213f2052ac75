#!/usr/bin/env bash
# Verify with the INFO access line on vs off, interleaved (BENCHMARKS.md,
# issue 19 part 2): three instances of the same tessera binary on one
# redis-server, all TESSERA_ENV=prod:
#   off      the shipped log4rs.yaml (prod: ERROR, no access lines);
#   on       the shipped log4rs.yaml plus `tessera::access: { level: info }`
#            (the buffered appender: console and main file, one line each);
#   on_sync  the same levels with the former synchronous appenders
#            (console + rolling_file, each line written and flushed on the
#            request's thread), the "before".
# wrk alternates between them run by run (off on on_sync off on on_sync …),
# so drift in the machine's load hits all three alike.
#
#   scripts/bench-logging.sh [OUT_DIR]     release build (scripts/bench.sh builds it)
#   env: ROUNDS (3), DUR (8s), PROFILE (release|debug)
#
# Prints verify_access_log_on_over_off (goal ≥ 0.85) and
# verify_access_log_sync_on_over_off; writes OUT_DIR/logging.tsv (one wrk
# run a line), logging.txt (the summary) and logging.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-}
ROUNDS=${ROUNDS:-3}; DUR=${DUR:-8s}
PROFILE=${PROFILE:-release}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
TESSERA=$BIN/tessera
TOKENS_BIN=$BIN/examples/bench_tokens
for tool in wrk redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "bench-logging: $tool is needed (scripts/bench.sh installs it)" >&2; exit 1; }
done
[ -x "$TESSERA" ] && [ -x "$TOKENS_BIN" ] || {
  echo "bench-logging: build first: cargo build --$PROFILE --bin tessera --example bench_tokens" >&2; exit 1; }

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh
wait_http() { for _ in $(seq 100); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
      printf 'GET /readyz HTTP/1.1\r\nHost: log\r\nConnection: close\r\n\r\n' >&3
      if head -1 <&3 | grep -q ' 200'; then exec 3>&-; return 0; fi; exec 3>&-
    fi; sleep 0.1; done; echo "bench-logging: port $1 never ready" >&2; return 1; }

ACCESS_ON='  tessera::access: { level: info }'
grep -q '^loggers:$' log4rs.yaml || { echo "bench-logging: log4rs.yaml has no loggers: line" >&2; exit 1; }
cp log4rs.yaml "$WORK/off.yaml"
sed "s/^loggers:\$/loggers:\n$ACCESS_ON/" log4rs.yaml >"$WORK/on.yaml"
PATTERN='"{d(%Y-%m-%dT%H:%M:%S%.3fZ)(utc)} {l:<5} {t} - {m}{n}"'
cat >"$WORK/on_sync.yaml" <<YAML
appenders:
  console: { kind: console, encoder: { pattern: $PATTERN } }
  file:
    kind: rolling_file
    path: "logs/tessera.log"
    encoder: { pattern: $PATTERN }
    policy:
      kind: compound
      trigger: { kind: size, limit: 100 mb }
      roller: { kind: fixed_window, pattern: "logs/tessera.{}.log", base: 1, count: 10 }
  audit:
    kind: rolling_file
    path: "logs/audit.log"
    encoder: { pattern: "{m}{n}" }
    policy:
      kind: compound
      trigger: { kind: size, limit: 100 mb }
      roller: { kind: fixed_window, pattern: "logs/audit.{}.log", base: 1, count: 10 }
root: { level: error, appenders: [console, file] }
loggers:
$ACCESS_ON
  audit: { level: info, appenders: [audit], additive: false }
YAML

RP=$(free_port)
start_redis "$RP"
SECRET=bench-secret-0123456789
"$TESSERA" keygen --out "$WORK/k.pem" >/dev/null
HASH=$(printf %s "$SECRET" | "$TESSERA" hash-secret)
start() { # side port
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/config.yaml" <<YAML
server: { listen: "127.0.0.1:$2", workers: $(nproc) }
issuer: "https://tessera.bench"
redis: { url: "redis://127.0.0.1:$RP", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys: [ { kid: "bench", path: "$WORK/k.pem", alg: "EdDSA", status: "active" } ]
clients: [ { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 } ]
logging: { config: "$WORK/$1.yaml" }
YAML
  (cd "$WORK/$1" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/$1/config.yaml" exec "$TESSERA" serve \
    >"$WORK/$1/stdout.log" 2>&1) &
  PIDS+=($!)
  wait_http "$2"
}
SIDES="off on on_sync"
declare -A PORT
for side in $SIDES; do PORT[$side]=$(free_port); start "$side" "${PORT[$side]}"; done
"$TOKENS_BIN" "http://127.0.0.1:${PORT[off]}" bench "$SECRET" 10000 10000 "$WORK/access.txt" "$WORK/refresh.txt"

export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$WORK/results.tsv BENCH_USERS=10000
export BENCH_TOKENS=$WORK/access.txt BENCH_AUTH
BENCH_AUTH=$(printf 'bench:%s' "$SECRET" | base64 -w0)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-logging: $PROFILE build, $ROUNDS rounds of $DUR, load before $LOAD_BEFORE"
for _ in $(seq "$ROUNDS"); do for side in $SIDES; do
  BENCH_NAME="verify_post/$side" wrk -t2 -c64 -d"$DUR" --latency -s "$ROOT/scripts/bench/verify_post.lua" \
    "http://127.0.0.1:${PORT[$side]}" >"$WORK/wrk.out" || { cat "$WORK/wrk.out" >&2; exit 1; }
done; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# The access lines really were written (and not on the off side).
for side in on on_sync; do
  n=$(grep -c ' tessera::access ' "$WORK/$side/logs/tessera.log" || true)
  [ "${n:-0}" -gt 0 ] || { echo "bench-logging: no access lines from $side" >&2; exit 1; }
done
! grep -q ' tessera::access ' "$WORK/off/logs/tessera.log" 2>/dev/null ||
  { echo "bench-logging: access lines from the off side" >&2; exit 1; }
if ! awk -F'\t' '$8 == 0 || $6 >= $8 { bad = 1 } END { exit bad }' "$WORK/results.tsv"; then
  echo "bench-logging: a run produced no successful request:" >&2; cat "$WORK/results.tsv" >&2; exit 1
fi
MEAN() { awk -F'\t' -v k="verify_post/$1" '$1 == k { s += $2; n++ } END { printf "%.0f", s / n }' "$WORK/results.tsv"; }
OFF=$(MEAN off); ON=$(MEAN on); SYNC=$(MEAN on_sync)
RATIO=$(awk -v a="$ON" -v b="$OFF" 'BEGIN { printf "%.3f", a / b }')
RATIO_SYNC=$(awk -v a="$SYNC" -v b="$OFF" 'BEGIN { printf "%.3f", a / b }')
DROPPED=$(grep -c 'log lines dropped' "$WORK/on/logs/tessera.log" || true)
REPORT=$(
  awk -F'\t' '{ v[$1] = v[$1] " " int($2) } END { for (k in v) printf "%-20s runs:%s\n", k, v[k] }' \
    "$WORK/results.tsv" | sort
  printf 'verify req/s mean: off %s, on (buffered) %s, on (synchronous, before) %s\n' "$OFF" "$ON" "$SYNC"
  printf 'verify_access_log_on_over_off %s (goal >= 0.85)\n' "$RATIO"
  printf 'verify_access_log_sync_on_over_off %s\n' "$RATIO_SYNC"
  printf 'drop reports in the buffered main log: %s\n' "${DROPPED:-0}"
  printf 'load before %s, after %s (1/5/15 min) on %s cores; wrk -t2 -c64 -d%s per run\n' \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" "$DUR"
)
echo "$REPORT"
JSON=$(printf '{"verify_rps_off": %s, "verify_rps_on": %s, "verify_rps_on_sync": %s, "verify_access_log_on_over_off": %s, "verify_access_log_sync_on_over_off": %s, "drop_reports": %s, "rounds": %s, "duration": "%s", "loadavg_before": "%s", "loadavg_after": "%s"}' \
  "$OFF" "$ON" "$SYNC" "$RATIO" "$RATIO_SYNC" "${DROPPED:-0}" "$ROUNDS" "$DUR" "$LOAD_BEFORE" "$LOAD_AFTER")
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  cp "$WORK/results.tsv" "$OUT/logging.tsv"
  echo "$REPORT" >"$OUT/logging.txt"
  echo "$JSON" >"$OUT/logging.json"
fi
