#!/usr/bin/env bash
# Verify over TLS vs verify over plain TCP, interleaved (BENCHMARKS.md,
# issue 14): one redis-server listens on a plain port and a TLS port (a
# throwaway CA made with openssl), two instances of the same tessera binary
# use one each (`redis://` / `rediss://` + redis.tls.ca_file), one token
# pool verifies on both, and wrk alternates between them scenario by
# scenario (plain tls plain tls …), so drift in the machine's load hits
# both sides alike.
#
#   scripts/bench-tls.sh [OUT_DIR]          release build (scripts/bench.sh builds it)
#   env: ROUNDS (5), DUR (8s), SCEN ("verify_get verify_post"), PROFILE (release|debug)
#
# Writes OUT_DIR/tls-vs-plain.tsv (one wrk run a line) and .txt (the summary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-}
ROUNDS=${ROUNDS:-5}; DUR=${DUR:-8s}; SCEN=${SCEN:-verify_get verify_post}
PROFILE=${PROFILE:-release}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
TESSERA=$BIN/tessera
TOKENS_BIN=$BIN/examples/bench_tokens
for tool in wrk redis-server redis-cli openssl; do
  command -v "$tool" >/dev/null || { echo "bench-tls: $tool is needed (scripts/bench.sh installs it)" >&2; exit 1; }
done
[ -x "$TESSERA" ] && [ -x "$TOKENS_BIN" ] || {
  echo "bench-tls: build first: cargo build --$PROFILE --bin tessera --example bench_tokens" >&2; exit 1; }
W=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT

free_port() { local p; while :; do p=$((20000 + RANDOM % 20000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
wait_http() { for _ in $(seq 100); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
      printf 'GET /readyz HTTP/1.1\r\nHost: tls\r\nConnection: close\r\n\r\n' >&3
      if head -1 <&3 | grep -q ' 200'; then exec 3>&-; return 0; fi; exec 3>&-
    fi; sleep 0.1; done; echo "bench-tls: port $1 never ready" >&2; cat "$W"/*.out >&2; return 1; }

# A CA and a certificate for 127.0.0.1.
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
openssl req -x509 -new -nodes "${EC[@]}" -keyout "$W/ca.key" -out "$W/ca.pem" -days 2 \
  -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' >"$W/srv.ext"
openssl req -new -nodes "${EC[@]}" -keyout "$W/srv.key" -out "$W/srv.csr" -subj /CN=redis 2>/dev/null
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
  -out "$W/srv.pem" -days 2 -extfile "$W/srv.ext" 2>/dev/null

# CPU seconds (user + system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

RP=$(free_port); RT=$(free_port)
redis-server --port "$RP" --tls-port "$RT" --tls-cert-file "$W/srv.pem" --tls-key-file "$W/srv.key" \
  --tls-ca-cert-file "$W/ca.pem" --tls-auth-clients no \
  --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --logfile "$W/redis.log" &
PIDS+=($!); PID_redis=$!
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
SECRET=bench-secret-0123456789
"$TESSERA" keygen --out "$W/k.pem" >/dev/null
HASH=$(printf %s "$SECRET" | "$TESSERA" hash-secret)

start() { # name port redis-section
  cat >"$W/$1.yaml" <<YAML
server: { listen: "127.0.0.1:$2", workers: 2 }
issuer: "https://tessera.bench"
redis: $3
tokens: { access_ttl_secs: 3600, max_sessions_per_user: 1000 }
rate_limit: { enabled: false }
keys: [ { kid: "bench", path: "$W/k.pem", alg: "EdDSA", status: "active" } ]
clients: [ { id: "bench", secret_hash: "$HASH", grants: [issue, verify, introspect, revoke], max_ttl_secs: 3600 } ]
logging: { config: "$ROOT/log4rs.yaml" }
YAML
  (cd "$W" && TESSERA_ENV=prod TESSERA_CONFIG="$W/$1.yaml" exec "$TESSERA" serve >"$W/$1.out" 2>&1) &
  PIDS+=($!)
  eval "PID_$1=$!"
  wait_http "$2"
}
PP=$(free_port); start plain "$PP" "{ url: \"redis://127.0.0.1:$RP\", key_prefix: \"tessera:\" }"
PT=$(free_port); start tls "$PT" "{ url: \"rediss://127.0.0.1:$RT\", key_prefix: \"tessera:\", tls: { ca_file: \"$W/ca.pem\" } }"
"$TOKENS_BIN" "http://127.0.0.1:$PP" bench "$SECRET" 10000 10000 "$W/access.txt" "$W/refresh.txt"

export BENCH_LUA_DIR=$ROOT/scripts/bench BENCH_OUT=$W/results.tsv BENCH_USERS=10000
export BENCH_TOKENS=$W/access.txt BENCH_AUTH
BENCH_AUTH=$(printf 'bench:%s' "$SECRET" | base64 -w0)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-tls: $PROFILE build, $ROUNDS rounds of $DUR, load before $LOAD_BEFORE"
# Per run, also the CPU seconds redis-server and the Tessera under load
# used (where TLS costs).
printf 'run\tredis_cpu_s\ttessera_cpu_s\n' >"$W/cpu.tsv"
for _ in $(seq "$ROUNDS"); do for s in $SCEN; do for side in plain tls; do
  port=$PP; pid=$PID_plain; [ "$side" = tls ] && port=$PT && pid=$PID_tls
  r0=$(cpu "$PID_redis"); t0=$(cpu "$pid")
  BENCH_NAME="$s/$side" wrk -t2 -c64 -d"$DUR" --latency -s "$ROOT/scripts/bench/$s.lua" \
    "http://127.0.0.1:$port" >"$W/wrk.out" || { cat "$W/wrk.out" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$s/$side" "$r0" "$(cpu "$PID_redis")" "$t0" "$(cpu "$pid")" |
    awk -F'\t' -v OFS='\t' '{ printf "%s\t%.2f\t%.2f\n", $1, $3 - $2, $5 - $4 }' >>"$W/cpu.tsv"
done; done; done
SUMMARY=$(awk -F'\t' '{ n[$1]++; s[$1] += $2; v[$1] = v[$1] " " int($2) }
  END { for (k in s) printf "%-18s mean %8.0f req/s   runs:%s\n", k, s[k] / n[k], v[k];
        for (k in s) if (k ~ /\/tls$/) { p = k; sub(/\/tls$/, "/plain", p);
          if (s[p] > 0) printf "%-18s tls/plain %.3f\n", k, (s[k] / n[k]) / (s[p] / n[p]) } }' \
  "$W/results.tsv" | sort)
CPU=$(awk -F'\t' 'NR > 1 { n[$1]++; r[$1] += $2; t[$1] += $3 }
  END { for (k in n) printf "%-18s CPU s per run: redis %.2f, tessera %.2f\n", k, r[k] / n[k], t[k] / n[k] }' \
  "$W/cpu.tsv" | sort)
SUMMARY=$(printf '%s\n%s' "$SUMMARY" "$CPU")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
REPORT=$(printf '%s\nload before %s, after %s (1/5/15 min) on %s cores; wrk -t2 -c64 -d%s per run\n' \
  "$SUMMARY" "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" "$DUR")
echo "$REPORT"
# A run with no successful request is a harness failure (as in bench.sh);
# errors are reported, slow is not a failure.
if ! awk -F'\t' '$8 == 0 || $6 >= $8 { bad = 1 } END { exit bad }' "$W/results.tsv"; then
  echo "bench-tls: a run produced no successful request:" >&2; cat "$W/results.tsv" >&2; exit 1
fi
if awk -F'\t' '$6 > 0 { found = 1 } END { exit !found }' "$W/results.tsv"; then
  echo "bench-tls: some runs had errors (wrk's errors column):"; cut -f1,6,8 "$W/results.tsv"
fi
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  cp "$W/results.tsv" "$OUT/tls-vs-plain.tsv"
  cp "$W/cpu.tsv" "$OUT/tls-vs-plain-cpu.tsv"
  echo "$REPORT" >"$OUT/tls-vs-plain.txt"
fi
