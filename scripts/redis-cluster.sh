#!/usr/bin/env bash
# A local Redis Cluster (3 primaries, 3 replicas) and a Sentinel setup
# (1 primary, 1 replica, 3 sentinels) on free loopback ports, for trying
# Tessera's scale-out modes by hand. (The test suite starts its own, from
# tests/api/redis_cluster.rs.)
#
#   scripts/redis-cluster.sh up         # starts both, writes $STATE/env, prints it
#   scripts/redis-cluster.sh up --tls   # the same, TLS only (rediss://): clients,
#                                       # cluster bus, replication and sentinels; a
#                                       # throwaway CA in $STATE/tls (openssl)
#   scripts/redis-cluster.sh down       # kills everything `up` started
#
# STATE defaults to target/redis-cluster. Source $STATE/env to get
# TESSERA__REDIS__* for either mode, e.g.
#   . target/redis-cluster/env && TESSERA__REDIS__MODE=cluster \
#     TESSERA__REDIS__URLS="$REDIS_CLUSTER_URLS" cargo run -- serve
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${STATE:-target/redis-cluster}"
MASTER_NAME="${MASTER_NAME:-tessera}"
TLS=0
SCHEME=redis
TLS_ARGS=()  # redis-server: serve TLS only (set by make_tls)
CLI_TLS=()   # redis-cli: speak TLS, trust the CA

# make_tls: a CA and one certificate for 127.0.0.1/localhost (server and
# client use) under $STATE/tls.
make_tls() {
  command -v openssl >/dev/null || { echo "openssl is needed for --tls" >&2; exit 1; }
  local d="$STATE/tls" ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  mkdir -p "$d"
  openssl req -x509 -new -nodes "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
    -subj "/CN=Tessera local CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/node.ext"
  openssl req -new -nodes "${ec[@]}" -keyout "$d/node.key" -out "$d/node.csr" -subj /CN=redis-node 2>/dev/null
  openssl x509 -req -in "$d/node.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/node.pem" -days 30 -extfile "$d/node.ext" 2>/dev/null
  TLS_ARGS=(--tls-cert-file "$d/node.pem" --tls-key-file "$d/node.key" --tls-ca-cert-file "$d/ca.pem"
    --tls-auth-clients no --tls-cluster yes --tls-replication yes)
  CLI_TLS=(--tls --cacert "$d/ca.pem")
}

# The listening arguments of a node on port $1: plain, or TLS only.
listen_args() {
  if [ "$TLS" = 1 ]; then echo "--port 0 --tls-port $1"; else echo "--port $1"; fi
}

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
  # shellcheck disable=SC2046 # listen_args is two or four words on purpose
  redis-server $(listen_args "$port") "${TLS_ARGS[@]}" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$STATE/$port" --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
    --daemonize yes --pidfile "$STATE/$port/pid" --logfile "$STATE/$port/log" "$@"
  wait_for "redis on $port" 10 redis-cli "${CLI_TLS[@]}" -p "$port" ping || {
    cat "$STATE/$port/log" >&2
    exit 1
  }
}

cluster_ok() { redis-cli "${CLI_TLS[@]}" -p "$1" cluster info | grep -q cluster_state:ok; }
sentinels_ready() {
  redis-cli "${CLI_TLS[@]}" -p "$1" sentinel master "$MASTER_NAME" | grep -A1 -x num-other-sentinels | grep -qx 2
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
  if [ "$TLS" = 1 ]; then make_tls; fi

  local ports=() seeds=() urls=()
  for _ in 1 2 3 4 5 6; do
    local p
    p=$(free_port)
    node "$p" --cluster-enabled yes --cluster-config-file "$STATE/$p/nodes.conf" \
      --cluster-node-timeout 1000 --cluster-replica-validity-factor 0
    ports+=("$p")
    seeds+=("127.0.0.1:$p")
    urls+=("$SCHEME://127.0.0.1:$p")
  done
  timeout 60 redis-cli "${CLI_TLS[@]}" --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$STATE/cluster-create.log"
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
    if [ "$TLS" = 1 ]; then
      printf 'port 0\ntls-port %s\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\ntls-replication yes\n' \
        "$s" "$STATE/tls/node.pem" "$STATE/tls/node.key" "$STATE/tls/ca.pem" >"$STATE/$s/sentinel.conf"
    else
      echo "port $s" >"$STATE/$s/sentinel.conf"
    fi
    cat >>"$STATE/$s/sentinel.conf" <<EOF
bind 127.0.0.1
dir $STATE/$s
sentinel monitor $MASTER_NAME 127.0.0.1 $primary 2
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 5000
sentinel parallel-syncs $MASTER_NAME 1
EOF
    redis-server "$STATE/$s/sentinel.conf" --sentinel --daemonize yes \
      --pidfile "$STATE/$s/pid" --logfile "$STATE/$s/log"
    wait_for "sentinel on $s" 10 redis-cli "${CLI_TLS[@]}" -p "$s" ping || exit 1
    sentinels+=("$s")
    surls+=("$SCHEME://127.0.0.1:$s")
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
  if [ "$TLS" = 1 ]; then
    echo "TESSERA__REDIS__TLS__CA_FILE=$STATE/tls/ca.pem" >>"$STATE/env"
  fi
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

case "${1:-} ${2:-}" in
  "up ") up ;;
  "up --tls") TLS=1 SCHEME=rediss up ;;
  "down ") down ;;
  *) echo "usage: $0 up [--tls] | down" >&2; exit 2 ;;
esac
