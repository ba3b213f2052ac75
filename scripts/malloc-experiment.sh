#!/usr/bin/env bash
# The allocator experiment quoted in BENCHMARKS.md: Tessera's RSS after a
# burst of Argon2id client-secret checks, with glibc's default malloc
# settings and with MALLOC_MMAP_THRESHOLD_=131072 (what the Dockerfile once set).
#
#   scripts/malloc-experiment.sh [OUT_FILE]  (default benches/results/<today>-malloc/rss.txt)
#
# Argon2id allocates 19 MiB per check. With the default settings glibc raises
# its mmap threshold after the first such block is freed, and later blocks
# come from per-thread arenas (one per blocking thread) that keep the memory.
# The burst: CLIENTS distinct clients issue once each, 32 at a time; every
# one is new to the process, so every request pays one Argon2id check (a
# full hashing queue answers 503 + Retry-After; the driver retries).
# Release build, a private redis-server, a fresh process per setting; RSS
# read from /proc at start, after the burst and 2 s later.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLIENTS=${CLIENTS:-200}
OUT=${1:-benches/results/$(date -u +%Y-%m-%d)-malloc/rss.txt}

for tool in redis-server redis-cli python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "malloc-experiment.sh: $tool is needed" >&2; exit 1; }
done
cargo build --locked --release --bin tessera
TESSERA=${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"

"$TESSERA" keygen --out "$WORK/key.pem" >/dev/null
{
  echo "clients:"
  for i in $(seq -w 1 "$CLIENTS"); do
    hash=$(printf 'secret-%s-0123456789' "$i" | "$TESSERA" hash-secret)
    echo "  - { id: \"c$i\", secret_hash: \"$hash\", grants: [issue], max_ttl_secs: 3600 }"
  done
} >"$WORK/clients.yaml"

run() { # label [env...]
  local label=$1; shift
  local port; port=$(free_port)
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  {
    echo "server: { listen: \"127.0.0.1:$port\", workers: $(nproc) }"
    echo "issuer: \"https://tessera.malloc\""
    echo "redis: { url: \"redis://127.0.0.1:$REDIS_PORT\", key_prefix: \"tessera:\" }"
    echo "rate_limit: { enabled: false }"
    echo "keys: [{ kid: \"m\", path: \"$WORK/key.pem\", alg: \"EdDSA\", status: \"active\" }]"
    echo "logging: { config: \"$ROOT/log4rs.yaml\" }"
    cat "$WORK/clients.yaml"
  } >"$WORK/config-$label.yaml"
  (cd "$WORK" && exec env "$@" TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config-$label.yaml" \
    "$TESSERA" serve >"$WORK/tessera-$label.out" 2>&1) &
  local pid=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  local start; start=$(rss_kb "$pid")
  python3 - "$port" "$CLIENTS" <<'PY'
import base64, json, sys, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, n = sys.argv[1], int(sys.argv[2])
def issue(i):
    cid = f"c{i:0{len(str(n))}d}"
    auth = base64.b64encode(f"{cid}:secret-{cid[1:]}-0123456789".encode()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/token/issue",
        data=json.dumps({"sub": f"user-{i}"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Basic " + auth})
    for _ in range(100):  # a full hashing queue answers 503 + Retry-After
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                assert r.status == 200, r.status
                return
        except urllib.error.HTTPError as e:
            if e.code != 503:
                raise
            time.sleep(float(e.headers.get("Retry-After", "1")) / 4)
    raise SystemExit(f"{cid}: still 503 after 100 tries")
with ThreadPoolExecutor(32) as pool:
    list(pool.map(issue, range(1, n + 1)))
PY
  local after; after=$(rss_kb "$pid")
  sleep 2
  local settled; settled=$(rss_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-28s start %7s kB  after %s first-time client checks %7s kB  2 s later %7s kB\n' \
    "$label" "$start" "$CLIENTS" "$after" "$settled"
}

mkdir -p "$(dirname "$OUT")"
{
  echo "commit: $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; glibc $(ldd --version | head -1 | awk '{print $NF}')"
  run glibc-default TESSERA_MALLOC_LABEL=default
  run mmap-threshold-131072 MALLOC_MMAP_THRESHOLD_=131072
} | tee "$OUT"
echo "malloc-experiment.sh: wrote $OUT"
