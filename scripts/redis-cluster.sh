#!/usr/bin/env bash
# A local Redis Cluster (3 primaries, 3 replicas) and a Sentinel setup
# (1 primary, 1 replica, 3 sentinels) on free loopback ports, for trying
# Tessera's scale-out modes by hand. (The test suite starts its own, from
# tests/api/redis_cluster.rs.)
#
#   scripts/redis-cluster.sh up     # starts both, writes $STATE/env, prints it
#   scripts/redis-cluster.sh down   # kills everything `up` started
#
# STATE defaults to target/redis-cluster. Source $STATE/env to get
# TESSERA__REDIS__* for either mode, e.g.
#   . target/redis-cluster/env && TESSERA__REDIS__MODE=cluster \
#     TESSERA__REDIS__URLS="$REDIS_CLUSTER_URLS" cargo run -- serve
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${STATE:-target/redis-cluster}"
MASTER_NAME="${MASTER_NAME:-tessera}"

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port that is free, with its cluster-bus port (+10000) free too.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( (RANDOM % 12000) + 10000 )) # p and p+10000 stay below the ephemeral range
    if ! in_use "$p" && ! in_use $((p + 10000)) && ! grep -qx "$p" "$STATE/ports" 2>/dev/null; then
      echo "$p" >>"$STATE/ports"
      echo "$p"
      return
    fi
  done
  echo "no free port" >&2
  exit 1
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for $what" >&2
  return 1
}

node() { # node PORT [redis-server args...]
  local port=$1
  shift
  mkdir -p "$STATE/$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$STATE/$port" --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
    --daemonize yes --pidfile "$STATE/$port/pid" --logfile "$STATE/$port/log" "$@"
  wait_for "redis on $port" 10 redis-cli -p "$port" ping || {
    cat "$STATE/$port/log" >&2
    exit 1
  }
}

cluster_ok() { redis-cli -p "$1" cluster info | grep -q cluster_state:ok; }
sentinels_ready() {
  redis-cli -p "$1" sentinel master "$MASTER_NAME" | grep -A1 -x num-other-sentinels | grep -qx 2
}

up() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server and redis-cli are needed (apt-get install redis-server)" >&2
    exit 1
  }
  if [ -f "$STATE/env" ]; then
    echo "already up ($STATE/env); run '$0 down' first" >&2
    exit 1
  fi
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd)
  : >"$STATE/ports"

  local ports=() seeds=() urls=()
  for _ in 1 2 3 4 5 6; do
    local p
    p=$(free_port)
    node "$p" --cluster-enabled yes --cluster-config-file "$STATE/$p/nodes.conf" \
      --cluster-node-timeout 1000 --cluster-replica-validity-factor 0
    ports+=("$p")
    seeds+=("127.0.0.1:$p")
    urls+=("redis://127.0.0.1:$p")
  done
  timeout 60 redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$STATE/cluster-create.log"
  for p in "${ports[@]}"; do wait_for "cluster state ok on $p" 30 cluster_ok "$p" || exit 1; done

  local primary replica sentinels=() surls=()
  primary=$(free_port)
  node "$primary"
  replica=$(free_port)
  node "$replica" --replicaof 127.0.0.1 "$primary"
  for _ in 1 2 3; do
    local s
    s=$(free_port)
    mkdir -p "$STATE/$s"
    cat >"$STATE/$s/sentinel.conf" <<EOF
port $s
bind 127.0.0.1
dir $STATE/$s
sentinel monitor $MASTER_NAME 127.0.0.1 $primary 2
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 5000
sentinel parallel-syncs $MASTER_NAME 1
EOF
    redis-server "$STATE/$s/sentinel.conf" --sentinel --daemonize yes \
      --pidfile "$STATE/$s/pid" --logfile "$STATE/$s/log"
    wait_for "sentinel on $s" 10 redis-cli -p "$s" ping || exit 1
    sentinels+=("$s")
    surls+=("redis://127.0.0.1:$s")
  done
  for s in "${sentinels[@]}"; do wait_for "sentinels to meet ($s)" 30 sentinels_ready "$s" || exit 1; done

  local list slist
  list=$(printf '"%s",' "${urls[@]}")
  slist=$(printf '"%s",' "${surls[@]}")
  cat >"$STATE/env" <<EOF
# Written by scripts/redis-cluster.sh up; remove with scripts/redis-cluster.sh down.
REDIS_CLUSTER_URLS='[${list%,}]'
REDIS_CLUSTER_PORTS='${ports[*]}'
REDIS_SENTINEL_URLS='[${slist%,}]'
REDIS_SENTINEL_PRIMARY_PORT=$primary
REDIS_SENTINEL_REPLICA_PORT=$replica
REDIS_SENTINEL_MASTER_NAME=$MASTER_NAME
EOF
  cat "$STATE/env"
  echo "cluster:  TESSERA__REDIS__MODE=cluster TESSERA__REDIS__URLS='[${list%,}]'"
  echo "sentinel: TESSERA__REDIS__MODE=sentinel TESSERA__REDIS__URLS='[${slist%,}]' TESSERA__REDIS__MASTER_NAME=$MASTER_NAME"
}

down() {
  [ -d "$STATE" ] || { echo "nothing to stop ($STATE absent)"; return 0; }
  local pidfile pid
  for pidfile in "$STATE"/*/pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$STATE"
  echo "stopped; removed $STATE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
