# Sourced by the harness scripts (bench.sh, bench-client.sh,
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
