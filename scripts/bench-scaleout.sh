#!/usr/bin/env bash
# Scale-out figures, all measured in the same run (so quote ratios):
#   - verify throughput: 1 instance over standalone Redis (baseline),
#     1 instance over a 3+3 Redis Cluster, 2 instances over the same cluster;
#   - Redis memory per live access token (standalone, used_memory delta).
# Needs wrk, curl, redis-server/redis-cli; builds the release binary.
#   scripts/bench-scaleout.sh [SECONDS]   (default 10 per run)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
for tool in wrk curl redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk curl redis-server)" >&2; exit 1; }
done
# TESSERA_BIN: a binary to measure instead of building the release one.
BIN="${TESSERA_BIN:-target/release/tessera}"
[ -n "${TESSERA_BIN:-}" ] || cargo build --release --locked --bin tessera >/dev/null
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  STATE="$WORK/rc" scripts/redis-cluster.sh down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { # a port nothing listens on
  local p
  while :; do
    p=$(( (RANDOM % 10000) + 22000 )) # below the ephemeral range
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# Standalone Redis (the baseline) and the cluster.
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log" --dir "$WORK"
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
PIDS+=("$(cat "$WORK/redis.pid")")
STATE="$WORK/rc" scripts/redis-cluster.sh up >/dev/null
# shellcheck disable=SC1091
. "$WORK/rc/env"

SECRET=bench-secret-0123456789
HASH=$(printf %s "$SECRET" | "$BIN" hash-secret)
"$BIN" keygen --out "$WORK/k1.pem" >/dev/null
cat >"$WORK/config.yaml" <<EOF
server: { listen: "127.0.0.1:0", workers: 1 }
issuer: "https://tessera.bench"
keys: [ { kid: "k1", path: "$WORK/k1.pem", alg: "EdDSA", status: "active" } ]
clients: [ { id: "bench", secret_hash: "$HASH", grants: [issue, verify, revoke] } ]
logging: { config: "$WORK/log4rs.yaml" }
EOF
printf 'root: { level: error, appenders: [] }\nappenders: {}\n' >"$WORK/log4rs.yaml"

start() { # start NAME PORT VAR=VALUE... ; waits for /readyz
  local name=$1 port=$2
  shift 2
  env "$@" TESSERA__SERVER__LISTEN="127.0.0.1:$port" "$BIN" serve --config "$WORK/config.yaml" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return
    sleep 0.1
  done
  echo "$name did not become ready" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}
stop_all_apps() {
  for p in "${PIDS[@]:1}"; do kill "$p" 2>/dev/null || true; done
  PIDS=("${PIDS[0]}")
}
token() { # token PORT SUB
  curl -sf -u "bench:$SECRET" --json "{\"sub\":\"$2\"}" "http://127.0.0.1:$1/token/issue" |
    sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}
rps() { # rps PORT TOKEN: requests/s of GET /token/verify
  wrk -t1 -c16 -d"${SECS}s" -H "Authorization: Bearer $2" "http://127.0.0.1:$1/token/verify" |
    awk '/Requests\/sec/ {print $2}'
}

STANDALONE=(TESSERA__REDIS__URL="redis://127.0.0.1:$RPORT" TESSERA__REDIS__KEY_PREFIX=bench:)
CLUSTER=(TESSERA__REDIS__MODE=cluster TESSERA__REDIS__URLS="$REDIS_CLUSTER_URLS" TESSERA__REDIS__KEY_PREFIX=bench:)

A=$(free_port)
start one-standalone "$A" "${STANDALONE[@]}"
T=$(token "$A" bench-user)
base=$(rps "$A" "$T")

# Memory per live access token (standalone): used_memory delta over N issues.
N=2000
before=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
for i in $(seq "$N"); do
  curl -sf -u "bench:$SECRET" --json "{\"sub\":\"user-$((i % 200))\",\"aud\":\"api\",\"scope\":\"read write\"}" \
    "http://127.0.0.1:$A/token/issue" >/dev/null
done
after=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
# One session: its family hash after a few rotations, and one access record.
RT=$(curl -sf -u "bench:$SECRET" --json '{"sub":"sess-user","refresh":true}' "http://127.0.0.1:$A/token/issue" |
  sed 's/.*"refresh_token":"\([^"]*\)".*/\1/')
for _ in $(seq 9); do
  RT=$(curl -sf -u "bench:$SECRET" --json "{\"refresh_token\":\"$RT\"}" "http://127.0.0.1:$A/token/refresh" |
    sed 's/.*"refresh_token":"\([^"]*\)".*/\1/')
done
FAM=$(redis-cli -p "$RPORT" --scan --pattern 'bench:{sess-user}:fam:*' | head -1)
AT=$(redis-cli -p "$RPORT" --scan --pattern 'bench:{user-1}:at:*' | head -1)
fam_bytes=$(redis-cli -p "$RPORT" memory usage "$FAM")
at_bytes=$(redis-cli -p "$RPORT" memory usage "$AT")
stop_all_apps

B=$(free_port)
start one-cluster "$B" "${CLUSTER[@]}"
T=$(token "$B" bench-user)
one_cluster=$(rps "$B" "$T")
C=$(free_port)
start two-cluster "$C" "${CLUSTER[@]}"
rps "$B" "$T" >"$WORK/b.rps" &
W=$!
rps "$C" "$T" >"$WORK/c.rps"
wait "$W"
two=$(awk '{s += $1} END {print s}' "$WORK/b.rps" "$WORK/c.rps")
stop_all_apps

echo "verify throughput (wrk -c16 per instance, ${SECS}s, server.workers 1, $(nproc) cores shared):"
echo "  1 instance  / standalone Redis : $base req/s (baseline)"
echo "  1 instance  / Redis Cluster    : $one_cluster req/s ($(awk -v a="$one_cluster" -v b="$base" 'BEGIN {printf "%.2f", a / b}')x)"
echo "  2 instances / Redis Cluster    : $two req/s ($(awk -v a="$two" -v b="$base" 'BEGIN {printf "%.2f", a / b}')x)"
echo "Redis memory per live access token (standalone, $N tokens over 200 users): $(( (after - before) / N )) bytes (MEMORY USAGE of one record: $at_bytes)"
echo "Redis memory of one session's family hash after 9 rotations: $fam_bytes bytes"
echo "commit $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true); $(date -u +%Y-%m-%dT%H:%M:%SZ); load after: $(cut -d' ' -f1-3 /proc/loadavg)"
