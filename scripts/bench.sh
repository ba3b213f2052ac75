#!/usr/bin/env bash
# Tessera's benchmark harness (see BENCHMARKS.md).
#
#   scripts/bench.sh           full run: release build, 15 s per scenario
#   scripts/bench.sh --smoke   a few seconds per scenario on the debug build
#                              (.ci/run: proves the harness runs; no timing verdict)
#   BENCH_ONLY=dpop scripts/bench.sh   only the DPoP verify rounds and their ceilings
#
# Starts its own redis-server and Tessera on free loopback ports, pre-issues
# token pools through the HTTP API, drives each scenario with wrk (fixed
# duration and connections), measures the ceilings in the same run (a no-op
# actix-web server built from the same dependency versions, and
# redis-benchmark GET at the same concurrency), Redis bytes per token and
# per session, and Tessera's RSS. Prints a table; writes JSON to bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full
[ "${1:-}" = "--smoke" ] && MODE=smoke
if [ "$MODE" = smoke ]; then
  DURATION=3s; CAL_DURATION=2s; POOL=500; REVOKE_POOL=1000; MEM_COUNT=2000; RB_REQUESTS=20000
  FEED_SUBSCRIBERS=50; FEED_REVOCATIONS=20; DPOP_COUNT=500; DPOP_ROUNDS=1; GOAL_ROUNDS=1; ROUND_POOL=500
  PROFILE_FLAG=(); PROFILE_DIR=debug
else
  DURATION=${BENCH_DURATION:-10s}; CAL_DURATION=4s; POOL=10000; REVOKE_POOL=20000; MEM_COUNT=100000; RB_REQUESTS=300000
  FEED_SUBSCRIBERS=${BENCH_FEED_SUBSCRIBERS:-1000}; FEED_REVOCATIONS=200
  DPOP_COUNT=${BENCH_DPOP_COUNT:-20000}; DPOP_ROUNDS=${BENCH_DPOP_ROUNDS:-5}
  GOAL_ROUNDS=${BENCH_GOAL_ROUNDS:-3}; ROUND_POOL=10000
  PROFILE_FLAG=(--release); PROFILE_DIR=release
fi
USERS=10000
THREADS=2
CONNS=${BENCH_CONNECTIONS:-64}
CORES=$(nproc)
SECRET=bench-secret-0123456789

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "bench.sh: building ($PROFILE_DIR)"
cargo build --locked "${PROFILE_FLAG[@]}" --bin tessera \
  --example noop --example bench_tokens --example bench_memory --example bench_feed \
  --example bench_dpop
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE_DIR
TESSERA=$BIN/tessera

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh

# Waits until GET PATH on PORT answers 200 (10 s at most).
wait_http() {
  local port=$1 path=$2
  for _ in $(seq 100); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' "$path" >&3
      if head -1 <&3 | grep -q ' 200'; then exec 3>&-; return 0; fi
      exec 3>&-
    fi
    sleep 0.1
  done
  echo "bench.sh: nothing answered 200 on port $port $path" >&2
  return 1
}

# The feed fan-out holds one connection per subscriber on each side.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

# --- the private Redis ---------------------------------------------------
REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"

# --- Tessera -------------------------------------------------------------
"$TESSERA" keygen --out "$WORK/bench.pem" >/dev/null
HASH=$(printf '%s' "$SECRET" | "$TESSERA" hash-secret)
TESSERA_PORT=$(free_port)
cat >"$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$TESSERA_PORT", workers: $CORES }
issuer: "https://tessera.bench"
redis: { url: "redis://127.0.0.1:$REDIS_PORT", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
# The load generator is one client on one IP: the per-client and per-IP
# limits (on by default) would measure the limiter, not Tessera.
rate_limit: { enabled: false }
keys:
  - { kid: "bench", path: "$WORK/bench.pem", alg: "EdDSA", status: "active" }
clients:
  - { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600, dpop: allowed }
logging: { config: "$ROOT/log4rs.yaml" }
YAML
# prod: the shipped log levels (ERROR, audit on); logs go under $WORK.
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec "$TESSERA" serve \
  >"$WORK/tessera.out" 2>&1) &
PIDS+=($!)
TESSERA_PID=$!
wait_http "$TESSERA_PORT" /readyz
# RSS at start: ready, no token issued yet (the pools and the feed
# subscribers below are what "idle" then includes).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
RSS_START=$(rss_kb "$TESSERA_PID")

# A second Tessera on the same Redis with the verify cache off: every token
# is verified from scratch, as a first-seen token is.
UNCACHED_PORT=$(free_port)
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" \
  TESSERA__SERVER__LISTEN="127.0.0.1:$UNCACHED_PORT" TESSERA__VERIFY__CACHE_ENTRIES=0 \
  exec "$TESSERA" serve >"$WORK/tessera-uncached.out" 2>&1) &
PIDS+=($!)
wait_http "$UNCACHED_PORT" /readyz

# BENCH_ONLY=dpop: only the DPoP scenario and its ceilings (about a minute
# on the release build), to bench-results/bench-dpop-<stamp>.json.
if [ "${BENCH_ONLY:-}" = dpop ]; then
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "bench.sh: DPoP only, $DPOP_ROUNDS interleaved rounds of $DPOP_COUNT (load $LOAD_BEFORE)"
  DPOP_JSON=$("$BIN/examples/bench_dpop" "http://127.0.0.1:$TESSERA_PORT" bench "$SECRET" 1000 \
    "$DPOP_COUNT" "$DPOP_ROUNDS" "http://127.0.0.1:$UNCACHED_PORT")
  mkdir -p bench-results
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  OUT=bench-results/bench-$MODE-dpop-$STAMP.json
  printf '{"mode": "%s", "only": "dpop", "date": "%s", "commit": "%s", "cores": %s,\n "loadavg_before": "%s", "loadavg_after": "%s",\n "dpop": %s}\n' \
    "$MODE" "$STAMP" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$CORES" \
    "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" "$DPOP_JSON" >"$OUT"
  echo "dpop: $(echo "$DPOP_JSON" | grep -o '"dpop_[a-z0-9]*_to_[a-z]*":[0-9.e-]*' | tr '\n' ' ')"
  echo "bench.sh: wrote $OUT"
  exit 0
fi

# --- the no-op ceiling ---------------------------------------------------
NOOP_PORT=$(free_port)
"$BIN/examples/noop" "127.0.0.1:$NOOP_PORT" "$CORES" &
PIDS+=($!)
wait_http "$NOOP_PORT" /healthz

# --- token pools, through the HTTP API -----------------------------------
BASE="http://127.0.0.1:$TESSERA_PORT"
echo "bench.sh: pre-issuing $POOL + $REVOKE_POOL tokens"
"$BIN/examples/bench_tokens" "$BASE" bench "$SECRET" "$USERS" "$POOL" "$WORK/access.txt" "$WORK/refresh.txt"
"$BIN/examples/bench_tokens" "$BASE" bench "$SECRET" "$USERS" "$REVOKE_POOL" "$WORK/doomed.txt" "$WORK/doomed-refresh.txt"

# --- the revocation feed: fan-out and propagation -------------------------
# FEED_SUBSCRIBERS subscribers on the main instance; each revocation's time
# from the revoke's 200 to every subscriber's receipt; RSS per subscriber.
# Before the scenarios: the revoke scenario fills the feed with thousands of
# events that every new subscriber would first replay.
echo "bench.sh: revocation feed, $FEED_SUBSCRIBERS subscribers, $FEED_REVOCATIONS revocations"
FEED_JSON=$("$BIN/examples/bench_feed" "$BASE" bench "$SECRET" "$FEED_SUBSCRIBERS" \
  "$FEED_REVOCATIONS" "$TESSERA_PID")
echo "feed: $FEED_JSON"

# --- RSS sampler ---------------------------------------------------------
# the subshell that started Tessera exec'd it, so its pid is Tessera's own
TESSERA_REAL_PID=$TESSERA_PID
RSS_IDLE=$(rss_kb "$TESSERA_REAL_PID")
(
  peak=0
  while kill -0 "$TESSERA_REAL_PID" 2>/dev/null; do
    r=$(rss_kb "$TESSERA_REAL_PID"); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$WORK/rss_peak"
    sleep 0.25
  done
) &
PIDS+=($!)

# --- scenarios -----------------------------------------------------------
RESULTS=$WORK/results.tsv
: >"$RESULTS"
export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$RESULTS BENCH_USERS=$USERS BENCH_THREADS=$THREADS
export BENCH_AUTH
BENCH_AUTH=$(printf 'bench:%s' "$SECRET" | base64 -w0)
export BENCH_TOKENS=$WORK/access.txt BENCH_REVOKE_TOKENS=$WORK/doomed.txt BENCH_REFRESH_TOKENS=$WORK/doomed-refresh.txt

run() { # name url script [extra env]
  local name=$1 url=$2 script=$3
  local duration=${RUN_DURATION:-$DURATION}
  echo "bench.sh: $name ($duration, $CONNS connections)"
  BENCH_NAME=$name wrk -t"$THREADS" -c"$CONNS" -d"$duration" --latency \
    -s "$ROOT/scripts/bench/$script" "$url" >"$WORK/$name.wrk" 2>&1 || {
    cat "$WORK/$name.wrk" >&2; return 1; }
}

run noop "http://127.0.0.1:$NOOP_PORT" noop.lua
run verify_post "$BASE" verify_post.lua
RSS_VERIFY=$(rss_kb "$TESSERA_REAL_PID")
run verify_get "$BASE" verify_get.lua
run verify_uncached "http://127.0.0.1:$UNCACHED_PORT" verify_post.lua
# verify paced to half the measured maximum: wrk pauses each connection
# between requests, so a connection's cycle is the pause plus its latency.
# A first guess takes verify_post's mean latency (connections / rate); a
# short calibration run at that pause measures the latency at the lower
# load, and the measured run pauses for the half-rate cycle minus it
# (fractional: common.lua alternates the two whole milliseconds around it).
# The rate reached, as a fraction of the maximum, is reported beside it.
MAX_RPS=$(awk -F'\t' '$1=="verify_post" {print $2}' "$RESULTS")
pause_for() { # measured-rps pause-used -> pause for half of MAX_RPS
  awk -v c="$CONNS" -v m="$MAX_RPS" -v r="$1" -v p="$2" \
    'BEGIN { d = c * 1000 / (m / 2) - (c * 1000 / r - p); printf "%.3f", (d < 0.1 ? 0.1 : d) }'
}
PACE=$(pause_for "$MAX_RPS" 0)
BENCH_OUT=$WORK/calibration.tsv BENCH_DELAY_MS=$PACE RUN_DURATION=$CAL_DURATION \
  run verify_half_calibration "$BASE" verify_post.lua
PACE=$(pause_for "$(awk -F'\t' '{print $2}' "$WORK/calibration.tsv")" "$PACE")
BENCH_DELAY_MS=$PACE run verify_half "$BASE" verify_post.lua
HALF_FRACTION=$(awk -F'\t' '$1=="verify_post" {m=$2} $1=="verify_half" {h=$2} END {printf "%.3f", h/m}' "$RESULTS")
run issue "$BASE" issue.lua
run refresh "$BASE" refresh.lua
run revoke "$BASE" revoke.lua
run mixed "$BASE" mixed.lua
# The no-op ceiling again: load from other processes drifts during a run,
# and a ceiling is the best the stack did (the table uses the higher one).
run noop_end "http://127.0.0.1:$NOOP_PORT" noop.lua
RSS_END=$(rss_kb "$TESSERA_REAL_PID")

# --- the goals, interleaved rounds ---------------------------------------
# GOAL_ROUNDS rounds of noop, verify_post, verify_uncached, issue, refresh,
# each round's ratios against its own no-op run (issue 19 asks for verify's
# three times): a ratio is read within one round, where the load the rest
# of the machine adds is the most alike. Each round's refresh chains start
# from ROUND_POOL sessions issued for that round (a refresh token presented
# twice would be reuse, which revokes its session).
GOALS=$WORK/goals.tsv
: >"$GOALS"
for round in $(seq "$GOAL_ROUNDS"); do
  echo "bench.sh: goal round $round of $GOAL_ROUNDS"
  "$BIN/examples/bench_tokens" "$BASE" bench "$SECRET" "$USERS" "$ROUND_POOL" \
    "$WORK/round-access.txt" "$WORK/round-refresh.txt" >/dev/null
  BENCH_OUT=$GOALS run "noop#$round" "http://127.0.0.1:$NOOP_PORT" noop.lua
  BENCH_OUT=$GOALS run "verify_post#$round" "$BASE" verify_post.lua
  BENCH_OUT=$GOALS run "verify_uncached#$round" "http://127.0.0.1:$UNCACHED_PORT" verify_post.lua
  BENCH_OUT=$GOALS run "issue#$round" "$BASE" issue.lua
  BENCH_OUT=$GOALS BENCH_REFRESH_TOKENS=$WORK/round-refresh.txt run "refresh#$round" "$BASE" refresh.lua
done

# DPoP verify vs plain stateful verify (both POST /token/verify, cache on),
# interleaved rounds (plain, ES256 proofs, Ed25519 proofs) of DPOP_COUNT
# requests each, 64 in flight; each DPoP request with its own fresh proof
# made before the round starts.
echo "bench.sh: DPoP vs plain verify, $DPOP_ROUNDS interleaved rounds of $DPOP_COUNT"
DPOP_JSON=$("$BIN/examples/bench_dpop" "$BASE" bench "$SECRET" 1000 "$DPOP_COUNT" "$DPOP_ROUNDS" \
  "http://127.0.0.1:$UNCACHED_PORT")
echo "dpop: $(echo "$DPOP_JSON" | grep -o '"dpop_[a-z0-9]*_to_plain":[0-9.e-]*' | tr '\n' ' ')"

# Redis's own time per command over all scenarios (a cheap profile of the
# store side: usec_per_call of the Lua scripts vs a GET or EXISTS).
REDIS_CMDSTATS=$(redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' \
  | grep -E '^cmdstat_(evalsha|exists|get|mget|set|del|hgetall|multi|exec):' | sed 's/^cmdstat_//' | tr '\n' ' ') || true

# --- the store's ceiling: redis-benchmark GET, same concurrency ----------
echo "bench.sh: redis-benchmark GET ($CONNS clients)"
redis-cli -p "$REDIS_PORT" set key:__rand_int__ x >/dev/null
RB=$(redis-benchmark -p "$REDIS_PORT" -t get -c "$CONNS" -n "$RB_REQUESTS" -r 100000 --csv | tail -1)
# "GET","rps","avg","min","p50","p95","p99","max": redis-benchmark reports
# no p99.9, so that column stays 0 (not measured); its maximum is kept apart.
echo "$RB" | tr -d '"' | awk -F, -v OFS='\t' '{print "redis_get", $2, $5, $7, 0, 0, 0, 0}' >>"$RESULTS"
RB_MAX_MS=$(echo "$RB" | tr -d '"' | awk -F, '{print $8}')

# --- memory --------------------------------------------------------------
# On a fresh, empty redis-server: a full one may double its hash table in
# the middle of the measurement, which would be charged to these records.
echo "bench.sh: Redis memory over $MEM_COUNT records"
MEM_PORT=$(free_port)
start_redis "$MEM_PORT"
MEM_JSON=$("$BIN/examples/bench_memory" "redis://127.0.0.1:$MEM_PORT" "$MEM_COUNT")

# --- criterion micro-benchmarks (full run only) ---------------------------
MICRO_JSON="null"
if [ "$MODE" = full ] && [ -z "${BENCH_SKIP_MICRO:-}" ]; then
  echo "bench.sh: criterion micro-benchmarks"
  cargo bench --locked --bench hot_path -- --warm-up-time 1 --measurement-time 3 --noplot \
    >"$WORK/criterion.txt" 2>&1 || { cat "$WORK/criterion.txt" >&2; exit 1; }
  MICRO_JSON=$(awk '
    !/time:/ && /^[a-z0-9_]+ *$/ { name=$1 }
    /time:/ { if ($0 !~ /^ /) name=$1; sub(/.*time: *\[/, ""); split($0, a, " ");
              v=a[3]; u=a[4]; ns = (u=="ns") ? v : (u=="µs"||u=="us") ? v*1000 : (u=="ms") ? v*1e6 : v;
              if (name != "") { printf "%s\"%s\": %.1f", sep, name, ns; sep=", " } }
    BEGIN { printf "{" } END { printf "}" }' "$WORK/criterion.txt")
fi

# --- the access line's cost: verify with it on vs off, interleaved -------
# (scripts/bench-logging.sh: its own Redis and three instances; the
# figures of record are in benches/results/2026-12-01-logging/)
LOG_ENV=(PROFILE="$PROFILE_DIR")
[ "$MODE" = smoke ] && LOG_ENV+=(ROUNDS=1 DUR=2s)
env "${LOG_ENV[@]}" scripts/bench-logging.sh "$WORK/logging"
LOGGING_JSON=$(cat "$WORK/logging/logging.json")
LOG_RATIO=$(echo "$LOGGING_JSON" | grep -o '"verify_access_log_on_over_off": [0-9.]*' | awk '{print $2}')

# --- report --------------------------------------------------------------
RSS_PEAK=$(cat "$WORK/rss_peak" 2>/dev/null || echo 0)
mkdir -p bench-results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -q . && echo "+dirty" || true)
OUT=bench-results/bench-$MODE-$STAMP.json
awk -F'\t' -v OFS='\t' '
  { name[NR]=$1; rps[NR]=$2; p50[NR]=$3; p99[NR]=$4; p999[NR]=$5; err[NR]=$6; non2xx[NR]=$7
    if (($1=="noop" || $1=="noop_end") && $2>noop) noop=$2; if ($1=="redis_get") rget=$2 }
  END {
    printf "%-12s %10s %9s %9s %9s %7s %8s %9s\n", "scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "/noop", "/redisGET"
    for (i=1; i<=NR; i++)
      printf "%-12s %10.0f %9.3f %9.3f %9.3f %7d %8.3f %9.3f\n", name[i], rps[i], p50[i], p99[i], p999[i], err[i], rps[i]/noop, rps[i]/rget
  }' "$RESULTS"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $CORES cores; wrk -t$THREADS -c$CONNS -d$DURATION"
echo "redis-benchmark GET: maximum latency ${RB_MAX_MS:-?} ms (it reports no p99.9; that column is 0)"
echo "memory: $MEM_JSON"
echo "redis commandstats: $REDIS_CMDSTATS"
echo "verify_access_log_on_over_off: $LOG_RATIO (goal >= 0.85; access line on vs off, buffered appender)"
echo "verify_half: pause $PACE ms per connection reached $HALF_FRACTION of verify_post's rate"
echo "tessera RSS kB: start $RSS_START, idle (after the pools) $RSS_IDLE, after verify $RSS_VERIFY, end $RSS_END, peak $RSS_PEAK"
[ "$MICRO_JSON" != null ] && echo "micro (ns): $MICRO_JSON"

# --- the goals (issue 19), each a ratio of this run ----------------------
# Per round: verify, issue and refresh over the same round's no-op; first-
# seen verify over the raw two-core signature rate (cores x 1e9 / the
# criterion raw Ed25519 verify, ns); then the access line's cost and Redis
# bytes per session. Printed and kept in the JSON as "goals".
RAW_VERIFY_NS=$(echo "$MICRO_JSON" | grep -o '"raw_ed25519_verify": [0-9.]*' | awk '{print $2}' || true)
PER_SESSION=$(echo "$MEM_JSON" | grep -o '"bytes_per_session_alone": [0-9.]*' | awk '{print $2}' || true)
PER_SESSION_FIRST=$(echo "$MEM_JSON" | grep -o '"bytes_per_session_with_first_access_token": [0-9.]*' | awk '{print $2}' || true)
GOALS_JSON=$(awk -F'\t' -v cores="$CORES" -v raw="${RAW_VERIFY_NS:-0}" -v logr="${LOG_RATIO:-0}" \
  -v sess="${PER_SESSION:-0}" -v first="${PER_SESSION_FIRST:-0}" '
  function verdict(ok) { return ok ? "met" : "missed" }
  function row(name, v, goal, ok) {
    printf "goal %-42s %8.3f  (goal %s)  %s\n", name, v, goal, verdict(ok) > "/dev/stderr"
    j = j sprintf("%s\"%s\": {\"value\": %.4f, \"goal\": \"%s\", \"met\": %s}", (j == "" ? "" : ", "), name, v, goal, ok ? "true" : "false")
  }
  { split($1, a, "#"); rps[a[1], a[2]] = $2; if (a[2] > rounds) rounds = a[2] }
  END {
    for (r = 1; r <= rounds; r++) {
      n = rps["noop", r]
      row("verify_over_noop#" r, rps["verify_post", r] / n, ">= 0.5", rps["verify_post", r] / n >= 0.5)
      row("issue_over_noop#" r, rps["issue", r] / n, ">= 0.25", rps["issue", r] / n >= 0.25)
      row("refresh_over_noop#" r, rps["refresh", r] / n, ">= 0.2", rps["refresh", r] / n >= 0.2)
      if (raw > 0) {
        ceiling = cores * 1e9 / raw
        row("first_seen_over_raw_signature_rate#" r, rps["verify_uncached", r] / ceiling, ">= 0.6", rps["verify_uncached", r] / ceiling >= 0.6)
      }
    }
    row("access_line_on_over_off", logr, ">= 0.85", logr >= 0.85)
    row("redis_bytes_per_session", sess, "<= 300", sess <= 300)
    row("redis_bytes_per_session_with_first_token", first, "<= 450", first <= 450)
    printf "{%s}", j
  }' "$GOALS" 2> "$WORK/goals.txt")
[ "$MODE" = smoke ] && echo "goals: smoke run (3 s rounds on the debug build, $MEM_COUNT records): the verdicts below prove the harness, not Tessera"
cat "$WORK/goals.txt"

{
  printf '{"mode": "%s", "date": "%s", "commit": "%s%s", "cores": %s, "cpu": "%s",\n' \
    "$MODE" "$STAMP" "$COMMIT" "$DIRTY" "$CORES" \
    "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  printf ' "loadavg": "%s", "wrk": {"threads": %s, "connections": %s, "duration": "%s"},\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$THREADS" "$CONNS" "$DURATION"
  printf ' "scenarios": ['
  awk -F'\t' '{ if (($1=="noop" || $1=="noop_end") && $2>noop) noop=$2; if ($1=="redis_get") rget=$2; l[NR]=$0 }
    END { for (i=1; i<=NR; i++) { split(l[i], f, "\t");
      printf "%s\n  {\"name\": \"%s\", \"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"p999_ms\": %s, \"errors\": %s, \"non_2xx\": %s, \"requests\": %s, \"ratio_to_noop\": %.4f, \"ratio_to_redis_get\": %.4f}",
        (i>1?",":""), f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[2]/noop, f[2]/rget } }' "$RESULTS"
  printf '],\n "verify_half_pace_ms": %s,\n "verify_half_fraction_of_max": %s,\n "memory": %s,\n' \
    "$PACE" "$HALF_FRACTION" "$MEM_JSON"
  printf ' "rss_kb": {"start": %s, "idle_after_pools": %s, "after_verify": %s, "end": %s, "peak": %s},\n' \
    "$RSS_START" "$RSS_IDLE" "$RSS_VERIFY" "$RSS_END" "$RSS_PEAK"
  printf ' "redis_commandstats": "%s",\n' "$REDIS_CMDSTATS"
  printf ' "redis_get_max_ms": %s,\n' "${RB_MAX_MS:-0}"
  printf ' "feed": %s,\n' "$FEED_JSON"
  printf ' "dpop": %s,\n' "$DPOP_JSON"
  printf ' "verify_access_log_on_over_off": %s,\n "logging": %s,\n' "$LOG_RATIO" "$LOGGING_JSON"
  printf ' "goal_rounds": [%s],\n' "$(awk -F'\t' '{ printf "%s{\"name\": \"%s\", \"rps\": %s, \"p50_ms\": %s, \"p99_ms\": %s, \"errors\": %s}", (NR>1?", ":""), $1, $2, $3, $4, $6 }' "$GOALS")"
  printf ' "goals": %s,\n' "$GOALS_JSON"
  printf ' "micro_ns": %s}\n' "$MICRO_JSON"
} >"$OUT"
echo "bench.sh: wrote $OUT"

# A scenario that failed outright (no requests, or every request an error)
# is a harness failure; slow is not.
awk -F'\t' '$1!="redis_get" && ($8==0 || $6 >= $8) { print "bench.sh: scenario " $1 " produced no successful request" > "/dev/stderr"; bad=1 } END { exit bad }' "$RESULTS"

# tessera-client: revocation propagation to the guard under load, and the
# in-process verification rates (scripts/bench-client.sh; the figures of
# record are in benches/results/2026-11-30-client/).
if [ "$MODE" = smoke ]; then
  scripts/bench-client.sh --smoke
else
  scripts/bench-client.sh bench-results
fi

# Verify over TLS vs plain TCP to Redis, interleaved (scripts/bench-tls.sh;
# the figures of record are in benches/results/2026-11-30-redis-tls/).
if [ "$MODE" = smoke ]; then
  PROFILE=$PROFILE_DIR ROUNDS=1 DUR=2s scripts/bench-tls.sh
else
  PROFILE=$PROFILE_DIR scripts/bench-tls.sh "bench-results/tls-$STAMP"
fi
