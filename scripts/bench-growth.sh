#!/usr/bin/env bash
# Cost as work grows (issue 19 part 5; BENCHMARKS.md "Cost as work grows").
#
#   scripts/bench-growth.sh           release build: verify p50/p99 with
#                                     10 thousand, 1 million and 10 million
#                                     live tokens in Redis; logout everywhere
#                                     and session listing for a user with
#                                     10, 1,000 and 100,000 tokens/sessions
#   scripts/bench-growth.sh --smoke   debug build, small sizes (proves it runs)
#
# Fills its own redis-server with the pipelined loader
# (benches/tools/load_tokens.rs, the store's exact record format, not
# through HTTP); verify tokens come from the HTTP API (bench_tokens).
# Redis blocking is Redis's own timing of each command (SLOWLOG with a
# threshold of 0, the longest command during the call). Environment:
# GROWTH_FILLS, GROWTH_SIZES (space-separated), BENCH_DURATION, GROWTH_OUT
# (result directory; default benches/results/<today>-growth).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = "--smoke" ]; then
  FILLS=${GROWTH_FILLS:-"10000 50000"}; SIZES=${GROWTH_SIZES:-"10 1000"}; DURATION=${BENCH_DURATION:-3s}
  PROFILE_FLAG=(); PROFILE_DIR=debug; POOL=500
else
  FILLS=${GROWTH_FILLS:-"10000 1000000 10000000"}; SIZES=${GROWTH_SIZES:-"10 1000 100000"}
  DURATION=${BENCH_DURATION:-10s}; PROFILE_FLAG=(--release); PROFILE_DIR=release; POOL=5000
fi
OUT=${GROWTH_OUT:-$ROOT/benches/results/$(date -u +%F)-growth}
THREADS=2
CONNS=${BENCH_CONNECTIONS:-64}
CORES=$(nproc)
SECRET=bench-secret-0123456789
for tool in wrk redis-server redis-cli curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench-growth.sh: $tool is missing (scripts/bench.sh installs it)" >&2; exit 1; }
done

echo "bench-growth.sh: building ($PROFILE_DIR)"
cargo build --locked "${PROFILE_FLAG[@]}" --bin tessera --example bench_tokens --example load_tokens
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE_DIR
LOAD=$BIN/examples/load_tokens

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh
mkdir -p "$OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"
REDIS="redis://127.0.0.1:$REDIS_PORT"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

"$BIN/tessera" keygen --out "$WORK/bench.pem" >/dev/null
HASH=$(printf '%s' "$SECRET" | "$BIN/tessera" hash-secret)
PORT=$(free_port)
cat >"$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$PORT", workers: $CORES }
issuer: "https://tessera.bench"
redis: { url: "$REDIS", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys:
  - { kid: "bench", path: "$WORK/bench.pem", alg: "EdDSA", status: "active" }
clients:
  - { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke, admin], max_ttl_secs: 3600 }
logging: { config: "$ROOT/log4rs.yaml" }
YAML
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec "$BIN/tessera" serve \
  >"$WORK/tessera.out" 2>&1) &
PIDS+=($!)
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { echo "bench-growth.sh: Tessera did not start" >&2; cat "$WORK/tessera.out" >&2; exit 1; }

echo "bench-growth.sh: $POOL verify tokens through the HTTP API"
"$BIN/examples/bench_tokens" "$BASE" bench "$SECRET" 1000 "$POOL" "$WORK/access.txt" "$WORK/refresh.txt"

used_memory() { rcli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }
# curl_ms METHOD PATH [JSON]: the call's wall time (ms) and status; body in $WORK/body
curl_ms() {
  local method=$1 path=$2 data=${3:-}
  local args=(-s -o "$WORK/body" -w '%{time_total} %{http_code}' -u "bench:$SECRET" -X "$method")
  [ -n "$data" ] && args+=(-H 'content-type: application/json' -d "$data")
  curl "${args[@]}" "$BASE$path" | awk '{printf "%.3f %s", $1 * 1000, $2}'
}

# --- verify as the store fills ------------------------------------------
VERIFY=$OUT/verify.tsv
printf 'live_tokens\tdbsize\tused_memory\tload_s\trps\tp50_ms\tp99_ms\tp999_ms\terrors\tnon2xx\trequests\n' >"$VERIFY"
export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_TOKENS=$WORK/access.txt BENCH_OUT=$WORK/wrk.tsv
have=0
for fill in $FILLS; do
  load_s=0
  if [ "$fill" -gt "$have" ]; then
    echo "bench-growth.sh: loading tokens $have..$fill"
    load_s=$("$LOAD" "$REDIS" tessera: fill "$have" "$fill" | sed 's/.*"seconds": \([0-9.]*\).*/\1/')
    have=$fill
  fi
  : >"$WORK/wrk.tsv"
  echo "bench-growth.sh: verify with $fill loaded ($DURATION)"
  BENCH_NAME=verify wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s "$ROOT/scripts/bench/verify_get.lua" "$BASE" >"$WORK/verify-$fill.wrk" 2>&1
  printf '%s\t%s\t%s\t%s\t%s\n' "$fill" "$(rcli dbsize)" "$(used_memory)" "$load_s" \
    "$(cut -f2- "$WORK/wrk.tsv")" >>"$VERIFY"
done

# --- one user with N tokens / sessions -----------------------------------
USERS_TSV=$OUT/per-user.tsv
printf 'kind\tn\toperation\twall_ms\tstatus\tredis_max_us\tredis_command\tredis_calls\tanswer\n' >"$USERS_TSV"
record() { # kind n operation "wall status" slowlog-json answer
  local wall=${4% *} status=${4#* }
  local max cmd calls
  max=$(sed 's/.*"max_us": \([0-9]*\).*/\1/' <<<"$5")
  cmd=$(sed 's/.*"command": "\([^"]*\)".*/\1/' <<<"$5")
  calls=$(sed 's/.*"entries": \([0-9]*\).*/\1/' <<<"$5")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$wall" "$status" "$max" "$cmd" "$calls" "$6" >>"$USERS_TSV"
}
for n in $SIZES; do
  sub="grow-sessions-$n"
  echo "bench-growth.sh: $n sessions of $sub"
  "$LOAD" "$REDIS" tessera: sessions "$sub" "$n" >/dev/null
  "$LOAD" "$REDIS" - slowlog-reset
  t=$(curl_ms GET "/users/$sub/sessions")
  record sessions "$n" "list first page (50)" "$t" "$("$LOAD" "$REDIS" - slowlog-max)" \
    "$(grep -o '"sid"' "$WORK/body" | wc -l) listed"
  # every page at the maximum size
  "$LOAD" "$REDIS" - slowlog-reset
  pages=0 listed=0 cursor="" total_ms=0
  while :; do
    q="?limit=200"; [ -n "$cursor" ] && q="$q&cursor=$cursor"
    t=$(curl_ms GET "/users/$sub/sessions$q")
    total_ms=$(awk -v a="$total_ms" -v b="${t% *}" 'BEGIN {printf "%.3f", a + b}')
    pages=$((pages + 1)); listed=$((listed + $(grep -o '"sid"' "$WORK/body" | wc -l)))
    cursor=$(sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p' "$WORK/body")
    [ -z "$cursor" ] && break
  done
  record sessions "$n" "list all, $pages pages of 200" "$total_ms 200" \
    "$("$LOAD" "$REDIS" - slowlog-max)" "$listed listed"
  "$LOAD" "$REDIS" - slowlog-reset
  t=$(curl_ms POST /token/revoke "{\"sub\": \"$sub\"}")
  record sessions "$n" "logout everywhere" "$t" "$("$LOAD" "$REDIS" - slowlog-max)" "$(tr -d ' \t' <"$WORK/body")"

  sub="grow-tokens-$n"
  echo "bench-growth.sh: $n stand-alone access tokens of $sub"
  "$LOAD" "$REDIS" tessera: tokens "$sub" "$n" >/dev/null
  "$LOAD" "$REDIS" - slowlog-reset
  t=$(curl_ms POST /token/revoke "{\"sub\": \"$sub\"}")
  record tokens "$n" "logout everywhere" "$t" "$("$LOAD" "$REDIS" - slowlog-max)" "$(tr -d ' \t' <"$WORK/body")"
done
rcli config set slowlog-log-slower-than 10000 >/dev/null

{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD)"
  echo "machine: $CORES cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM; $(redis-server --version | cut -d' ' -f3)"
  echo "load before: $LOAD_BEFORE (1/5/15 min); after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "wrk -t$THREADS -c$CONNS -d$DURATION, verify_get over $POOL tokens; Redis and Tessera on the same cores"
} >"$OUT/run.txt"
echo "== $OUT"; cat "$OUT/run.txt"; column -t -s$'\t' "$VERIFY"; column -t -s$'\t' "$USERS_TSV"
