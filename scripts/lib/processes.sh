# Sourced by the harness scripts (bench.sh, bench-client.sh, perf-issue.sh,
# profile-issue.sh, malloc-experiment.sh): a temporary WORK directory,
# every pid in PIDS killed on exit, free loopback ports, private
# redis-servers.

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A loopback port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# start_redis PORT [ARGS...]: a private redis-server without persistence,
# logging to $WORK/redis-PORT.log; returns once it answers PING.
start_redis() {
  local port=$1
  shift
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis-$port.log" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): redis-server on port $port did not answer PING" >&2
  return 1
}

# issue_config TESSERA PORT REDIS_PORT CLIENT_ID SECRET [WORKERS] [GRANTS]:
# a key in $WORK/key.pem and $WORK/config.yaml for one client on a private
# redis-server, rate limits off, the shipped log4rs.yaml (the issue
# profiles: profile-issue.sh, perf-issue.sh; the soak: bench-soak.sh).
# WORKERS 0: one per core. GRANTS: a YAML list's items, default "issue".
issue_config() {
  local tessera=$1 port=$2 redis_port=$3 client=$4 secret=$5 workers=${6:-0} grants=${7:-issue} hash
  "$tessera" keygen --out "$WORK/key.pem" >/dev/null
  hash=$(printf '%s' "$secret" | "$tessera" hash-secret)
  cat >"$WORK/config.yaml" <<YAML
server: { listen: "127.0.0.1:$port", workers: $workers }
issuer: "https://tessera.profile"
redis: { url: "redis://127.0.0.1:$redis_port", key_prefix: "tessera:" }
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys:
  - { kid: "profile", path: "$WORK/key.pem", alg: "EdDSA", status: "active" }
clients:
  - { id: "$client", secret_hash: "$hash", grants: [$grants], max_ttl_secs: 3600 }
logging: { config: "$PWD/log4rs.yaml" }
YAML
}

# wait_ready PORT [TENTHS]: until Tessera on PORT answers /readyz 200 (at
# most TENTHS tenths of a second, default 300); fails loudly if it never does.
wait_ready() {
  local port=$1 tries=${2:-300}
  for _ in $(seq "$tries"); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
}
