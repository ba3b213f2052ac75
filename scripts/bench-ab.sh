#!/usr/bin/env bash
# Interleaved A/B of two tessera binaries (BENCHMARKS.md): both serve the
# same private redis-server with the same key and client, one token pool
# verifies on both, and wrk alternates between them scenario by scenario
# (A B A B …), so drift in the machine's load hits both sides alike.
#
#   scripts/bench-ab.sh BIN_A BIN_B [OUT.tsv]
#   env: ROUNDS (5), DUR (8s), SCEN ("verify_post verify_get issue")
#
# Needs the release helper programs of this tree (scripts/bench.sh builds
# them, or: cargo build --release --example bench_tokens) and wrk, redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
A=$(realpath "$1"); B=$(realpath "$2"); OUT=${3:-}
ROUNDS=${ROUNDS:-5}; DUR=${DUR:-8s}; SCEN=${SCEN:-verify_post verify_get issue}
TOKENS_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_tokens
W=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT

free_port() { local p; while :; do p=$((20000 + RANDOM % 20000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
wait_http() { for _ in $(seq 100); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
      printf 'GET /readyz HTTP/1.1\r\nHost: ab\r\nConnection: close\r\n\r\n' >&3
      if head -1 <&3 | grep -q ' 200'; then exec 3>&-; return 0; fi; exec 3>&-
    fi; sleep 0.1; done; echo "bench-ab: port $1 never ready" >&2; return 1; }

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --logfile "$W/redis.log" &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
SECRET=bench-secret-0123456789
"$A" keygen --out "$W/k.pem" >/dev/null
HASH=$(printf %s "$SECRET" | "$A" hash-secret)

start() { # binary port name
  cat >"$W/$3.yaml" <<YAML
server: { listen: "127.0.0.1:$2", workers: 2 }
issuer: "http://tessera.bench"
redis: { url: "redis://127.0.0.1:$RP", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys: [ { kid: "bench", path: "$W/k.pem", alg: "EdDSA", status: "active" } ]
clients: [ { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 } ]
logging: { config: "$ROOT/log4rs.yaml" }
YAML
  (cd "$W" && TESSERA_ENV=prod TESSERA_CONFIG="$W/$3.yaml" exec "$1" serve >"$W/$3.out" 2>&1) &
  PIDS+=($!)
  wait_http "$2"
}
PA=$(free_port); start "$A" "$PA" a
PB=$(free_port); start "$B" "$PB" b
"$TOKENS_BIN" "http://127.0.0.1:$PA" bench "$SECRET" 10000 10000 "$W/access.txt" "$W/refresh.txt"

export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$W/results.tsv BENCH_USERS=10000
export BENCH_TOKENS=$W/access.txt BENCH_AUTH
BENCH_AUTH=$(printf 'bench:%s' "$SECRET" | base64 -w0)
echo "bench-ab: A=$A B=$B, $ROUNDS rounds of $DUR, load before $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do for s in $SCEN; do for side in a b; do
  port=$PA; [ "$side" = b ] && port=$PB
  BENCH_NAME="$s/$side" wrk -t2 -c64 -d"$DUR" --latency -s "$ROOT/scripts/bench/$s.lua" \
    "http://127.0.0.1:$port" >/dev/null
done; done; done
awk -F'\t' '{ n[$1]++; s[$1] += $2; v[$1] = v[$1] " " int($2) }
  END { for (k in s) printf "%-16s mean %8.0f req/s   runs:%s\n", k, s[k] / n[k], v[k] }' \
  "$W/results.tsv" | sort
echo "bench-ab: load after $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$OUT" ] && cp "$W/results.tsv" "$OUT"
