#!/usr/bin/env bash
# Where one POST /token/issue's CPU goes, natively (issue 19): every process
# of the run is accounted for, then `perf` samples Tessera itself.
#
#   scripts/perf-issue.sh [OUT_DIR]    (default benches/results/<today>-perf-issue)
#
# An unstripped release build with line tables (its own target directory,
# target/prof, so the stripped build of scripts/bench.sh stays as it is),
# the shipped prod logging, a private redis-server, wrk -t2 -c64 issuing
# tokens with refresh tokens for DURATION (10) seconds while `perf record`
# samples Tessera. Writes:
#   cpu.txt      CPU µs per issue of tessera, redis-server and wrk (utime +
#                stime deltas over the run, from /proc/PID/stat), the rate,
#                the load average
#   perf.txt     `perf report` of Tessera's samples: self time by symbol, and
#                by shared object (kernel, libc, tessera)
#   summary.txt  the commit and the grouped shares quoted in BENCHMARKS.md
# perf samples the CPU time Tessera used, so its shares hold on a busy
# machine too; the rate and µs per issue do not (cpu.txt records the load).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
OUT=${1:-benches/results/$(date -u +%Y-%m-%d)-perf-issue}
SECRET=profile-secret-0123456789

for tool in perf wrk redis-server redis-cli curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "perf-issue.sh: $tool is needed (apt-get install linux-perf wrk redis-server redis-tools curl)" >&2; exit 1; }
done

# TESSERA_BIN: profile that binary instead (an A/B of two builds; LABEL
# names it in the result files).
if [ -n "${TESSERA_BIN:-}" ]; then
  TESSERA=$TESSERA_BIN
else
  CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --locked --release --target-dir "$ROOT/target/prof" --bin tessera
  TESSERA=$ROOT/target/prof/release/tessera
fi

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"
REDIS_PID=$(redis-cli -p "$REDIS_PORT" info server | awk -F: '/^process_id/ {print $2+0}')

PORT=$(free_port)
issue_config "$TESSERA" "$PORT" "$REDIS_PORT" bench "$SECRET"
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec "$TESSERA" serve \
  >"$WORK/tessera.out" 2>&1) &
TESSERA_PID=$!
PIDS+=("$TESSERA_PID")
wait_ready "$PORT"

export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$WORK/wrk.tsv BENCH_NAME=issue
BENCH_AUTH=$(printf 'bench:%s' "$SECRET" | base64 -w0)
export BENCH_AUTH
# warm-up: the client's Argon2id check, the scripts' loads, the pools
wrk -t2 -c64 -d2s -s scripts/bench/issue.lua "http://127.0.0.1:$PORT" >/dev/null
: >"$BENCH_OUT"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, clock ticks
HZ=$(getconf CLK_TCK)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
T0=$(ticks "$TESSERA_PID")
R0=$(ticks "$REDIS_PID")
W0=$(awk '{print $16 + $17}' /proc/$$/stat) # waited-for children's times so far
# DWARF call chains: the release build keeps no frame pointers.
perf record -F 499 --call-graph dwarf,16384 -o "$WORK/perf.data" -p "$TESSERA_PID" -- sleep "$DURATION" \
  >"$WORK/perf-record.log" 2>&1 &
PERF_PID=$!
wrk -t2 -c64 -d"${DURATION}s" -s scripts/bench/issue.lua "http://127.0.0.1:$PORT" >"$WORK/wrk.txt" &
WRK_PID=$!
wait "$WRK_PID"
# wrk's own CPU: its children's times, read by the shell after it exits
WRK_TICKS=$(($(awk '{print $16 + $17}' /proc/$$/stat) - W0))
wait "$PERF_PID" || { echo "perf-issue.sh: perf record failed:" >&2; cat "$WORK/perf-record.log" >&2; exit 1; }
T1=$(ticks "$TESSERA_PID")
R1=$(ticks "$REDIS_PID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# Redis's own accounting of the run: calls and µs per call of each command,
# the script's inner commands included (redis-server counts them too).
redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | grep '^cmdstat' >"$WORK/commandstats.txt"
read -r _ RPS _ _ _ ERRORS NON2XX REQUESTS <"$BENCH_OUT"

mkdir -p "$OUT"
us_per() { awk -v t="$1" -v hz="$HZ" -v n="$REQUESTS" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }'; }
{
  echo "commit: $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true); binary: $TESSERA ($("$TESSERA" --version 2>/dev/null || true))"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)${LABEL:+; build: $LABEL}"
  echo "cores: $(nproc); load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
  echo "wrk -t2 -c64 -d${DURATION}s issue.lua: $REQUESTS requests, $RPS req/s, errors $ERRORS, non-2xx $NON2XX"
  echo "CPU per issue (µs): tessera $(us_per $((T1 - T0))), redis-server $(us_per $((R1 - R0))), wrk $(us_per "$WRK_TICKS")"
  echo "(perf's sampling adds a little to tessera's figure)"
  echo "redis commandstats over the run (calls, µs per call; inner commands of the scripts included):"
  sed 's/^cmdstat_/  /' "$WORK/commandstats.txt"
} | tee "$OUT/cpu.txt"

# Each report to a file first: `head` closing a pipe would fail the script.
report() { # file, perf report arguments...
  local file=$1
  shift
  perf report -i "$WORK/perf.data" --stdio "$@" >"$WORK/$file.raw" 2>/dev/null
  grep -E '^ +[0-9]' "$WORK/$file.raw" | sed 's/  *- *- *$//; s/ *$//' >"$WORK/$file.txt" || true
}
report by-symbol --no-children --sort symbol -g none
report by-dso --no-children --sort dso -g none
report inclusive --children --sort symbol -g none
{
  echo "== self time by shared object"
  head -20 "$WORK/by-dso.txt"
  echo "== self time by symbol (top 120)"
  head -120 "$WORK/by-symbol.txt"
  echo "== inclusive time by symbol (top 150)"
  head -150 "$WORK/inclusive.txt"
} >"$OUT/perf.txt"

# Grouped inclusive shares: the first matching line's "children" column.
share() { # pattern
  awk -v f="$1" 'index($0, f) { print $1; exit }' "$WORK/inclusive.txt"
}
{
  cat "$OUT/cpu.txt"
  echo "inclusive shares of Tessera's CPU (perf, children):"
  for f in 'TokenService>::issue' 'KeySet::sign' 'ed25519' 'create_session' 'audit::event' 'log4rs' \
    'require_client' 'decode_issue_request' 'token_response' 'request_context' 'h1::dispatcher' \
    'entry_SYSCALL' 'malloc' 'free' 'memcpy' 'core::fmt::write' 'sha2' 'redis::'; do
    printf '  %-24s %s\n' "$f" "$(share "$f" || true)"
  done
} | tee "$OUT/summary.txt"
echo "perf-issue.sh: wrote $OUT"
