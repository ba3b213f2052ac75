#!/usr/bin/env bash
# Property-based API test: starts the dev binary (demo client) on a free
# loopback port, runs schemathesis against its /openapi.json with Basic auth
# for the demo client and a bounded number of examples per operation, then
# stops it. Twice: over the memory store, then over a private redis-server.
# Any failed check fails the script.
#   SCHEMATHESIS_MAX_EXAMPLES (default 20), SCHEMATHESIS_SEED (default fixed;
#   set "random" to explore).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

VENV="$(./scripts/ops-venv.sh)"
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
fi
cargo build --locked --bin tessera
BIN="$REPO/target/debug/tessera"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

SEED_ARGS=(--seed "${SCHEMATHESIS_SEED:-20261130}")
if [ "${SCHEMATHESIS_SEED:-}" = "random" ]; then SEED_ARGS=(); fi

# run_against NAME [VAR=VALUE...]: one instance with those extra variables.
run_against() {
  local name="$1"; shift
  local dir="$WORK/$name" port pid
  mkdir -p "$dir"
  cp log4rs.yaml "$dir/log4rs.yaml"
  port="$(free_port)"
  (
    cd "$dir"
    exec env -u TESSERA_ENV TESSERA_CONFIG="$REPO/config.dev.yaml" \
      TESSERA__SERVER__LISTEN="127.0.0.1:$port" \
      TESSERA__LOGGING__CONFIG="$dir/log4rs.yaml" \
      TESSERA__TOKENS__DEV_KEY_PATH="$dir/keys/dev.pem" \
      TESSERA__VERIFY__FEED_MAX_CONNECTION_SECS=1 \
      "$@" "$BIN" serve >"$dir/stdout.log" 2>"$dir/stderr.log"
  ) &
  pid=$!
  PIDS+=("$pid")
  for i in $(seq 1 300); do
    if [ "$i" -eq 300 ]; then echo "tessera ($name) did not answer on /healthz" >&2; exit 1; fi
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "tessera ($name) exited:" >&2; cat "$dir/stderr.log" "$dir/stdout.log" >&2; exit 1; fi
    sleep 0.1
  done
  # The document itself must be valid OpenAPI (unique operation ids and
  # the rest): code generators and gateways that import it refuse it else.
  python3 -c "import urllib.request, sys; sys.stdout.buffer.write(urllib.request.urlopen('http://127.0.0.1:$port/openapi.json', timeout=5).read())" \
    >"$dir/openapi.json"
  "$VENV/bin/openapi-spec-validator" "$dir/openapi.json"
  echo "schemathesis: against the $name store"
  # positive_data_acceptance is off: schema-valid input is often rightly
  # refused (unknown tokens are 401, unknown users have no sessions).
  # Run from $dir: schemathesis keeps a .schemathesis/ cache where it runs.
  (cd "$dir" && "$VENV/bin/st" --config-file "$REPO/scripts/schemathesis.toml" \
    run "http://127.0.0.1:$port/openapi.json" \
    --auth demo-app:demo-secret-not-for-production \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
    "${SEED_ARGS[@]}" \
    --checks all --exclude-checks positive_data_acceptance \
    --generation-database none \
    --request-timeout 10 \
    --no-color \
    --report junit --report-dir "$REPO/target/schemathesis/$name")
  # A client's malformed input must never be logged as a server fault.
  if grep -q ' ERROR ' "$dir/stdout.log"; then
    echo "schemathesis ($name): ERROR lines in the log:" >&2
    grep ' ERROR ' "$dir/stdout.log" >&2
    exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_against memory

REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$WORK" >/dev/null 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $REDIS_PORT), 0.2)" 2>/dev/null; then break; fi
  sleep 0.05
done
run_against redis TESSERA__REDIS__URL="redis://127.0.0.1:$REDIS_PORT"
echo "schemathesis: passed"
