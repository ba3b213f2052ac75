#!/usr/bin/env bash
# Tessera's RSS over a long mixed run (BENCHMARKS.md, issue 19 part 4): no
# growth means the RSS at the end is within 20% of the RSS after the first
# minute. A harness run, not a CI test: it takes DUR (10 minutes) plus the
# pools.
#
#   scripts/bench-soak.sh [OUT_DIR]    release build (scripts/bench.sh builds it)
#   env: DUR (600, seconds), PROFILE (release|debug)
#
# A private redis-server and one Tessera (TESSERA_ENV=prod, the shipped
# log4rs.yaml, rate limits off), 10,000 + 20,000 pre-issued tokens, then
# wrk's mixed scenario (90% verify, 8% issue with a refresh token, 2%
# revoke) for DUR seconds while Tessera's VmRSS is sampled every 5 s.
# Writes OUT_DIR/soak.tsv (elapsed s, RSS kB, Redis used_memory bytes),
# soak.wrk (wrk's report) and soak.json (the figures and the verdict).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-bench-results/soak-$(date -u +%Y%m%dT%H%M%SZ)}
DUR=${DUR:-600}
PROFILE=${PROFILE:-release}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
TESSERA=$BIN/tessera
for tool in wrk redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "bench-soak: $tool is needed (scripts/bench.sh installs it)" >&2; exit 1; }
done
[ -x "$TESSERA" ] && [ -x "$BIN/examples/bench_tokens" ] || {
  echo "bench-soak: build first: cargo build --$PROFILE --bin tessera --example bench_tokens" >&2; exit 1; }
[ "$DUR" -ge 120 ] || { echo "bench-soak: DUR must be at least 120 s (the first minute is the reference)" >&2; exit 1; }
mkdir -p "$OUT"

# WORK, PIDS (killed on exit), free_port, start_redis, wait_ready, issue_config
. scripts/lib/processes.sh

RP=$(free_port)
start_redis "$RP"
SECRET=bench-secret-0123456789
PORT=$(free_port)
issue_config "$TESSERA" "$PORT" "$RP" soak "$SECRET" 0 "issue, verify, revoke"
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec "$TESSERA" serve \
  >"$WORK/tessera.out" 2>&1) &
PIDS+=($!)
TPID=$!
wait_ready "$PORT"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$TPID/status"; }
redis_mem() { redis-cli -p "$RP" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
RSS_READY=$(rss_kb)
BASE="http://127.0.0.1:$PORT"
"$BIN/examples/bench_tokens" "$BASE" soak "$SECRET" 10000 10000 "$WORK/access.txt" "$WORK/refresh.txt"
"$BIN/examples/bench_tokens" "$BASE" soak "$SECRET" 10000 20000 "$WORK/doomed.txt" "$WORK/doomed-refresh.txt"
RSS_POOLS=$(rss_kb)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench-soak: mixed run for $DUR s (load $LOAD_BEFORE)"
BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$WORK/wrk.tsv BENCH_NAME=soak BENCH_USERS=10000 \
  BENCH_AUTH=$(printf 'soak:%s' "$SECRET" | base64 -w0) \
  BENCH_TOKENS=$WORK/access.txt BENCH_REVOKE_TOKENS=$WORK/doomed.txt \
  wrk -t2 -c64 -d"${DUR}s" --latency -s "$ROOT/scripts/bench/mixed.lua" "$BASE" >"$OUT/soak.wrk" 2>&1 &
WRK=$!
PIDS+=($WRK)
START=$(date +%s)
: >"$OUT/soak.tsv"
while kill -0 "$WRK" 2>/dev/null; do
  printf '%s\t%s\t%s\n' "$(($(date +%s) - START))" "$(rss_kb)" "$(redis_mem)" >>"$OUT/soak.tsv"
  sleep 5
done
wait "$WRK" || { cat "$OUT/soak.wrk" >&2; exit 1; }
kill -0 "$TPID" || { echo "bench-soak: Tessera died during the run" >&2; tail -20 "$WORK/tessera.out" >&2; exit 1; }

# The first sample at or after 60 s is the reference; the last one is the end.
read -r AT_1MIN END MAX < <(awk -F'\t' '$1 >= 60 && !ref { ref = $2 } { last = $2; if ($2 > max) max = $2 }
  END { print ref, last, max }' "$OUT/soak.tsv")
RATIO=$(awk -v a="$END" -v b="$AT_1MIN" 'BEGIN { printf "%.3f", a / b }')
MET=$(awk -v r="$RATIO" 'BEGIN { print (r <= 1.2) ? "true" : "false" }')
RPS=$(awk -F'\t' '{print $2}' "$WORK/wrk.tsv")
ERRORS=$(awk -F'\t' '{print $6}' "$WORK/wrk.tsv")
REQUESTS=$(awk -F'\t' '{print $8}' "$WORK/wrk.tsv")
printf '{"date": "%s", "commit": "%s", "cores": %s, "duration_s": %s, "loadavg_before": "%s", "loadavg_after": "%s",\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" "$DUR" \
  "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/soak.json"
printf ' "mixed_rps": %s, "requests": %s, "errors": %s,\n "rss_kb": {"ready": %s, "after_pools": %s, "at_1min": %s, "end": %s, "max": %s},\n "rss_end_over_1min": %s, "goal": "<= 1.2", "met": %s}\n' \
  "$RPS" "$REQUESTS" "$ERRORS" "$RSS_READY" "$RSS_POOLS" "$AT_1MIN" "$END" "$MAX" "$RATIO" "$MET" >>"$OUT/soak.json"
cat "$OUT/soak.json"
echo "bench-soak: RSS end / at 1 min = $RATIO (goal <= 1.2); wrote $OUT"
