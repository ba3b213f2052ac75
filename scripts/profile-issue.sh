#!/usr/bin/env bash
# The callgrind profile of POST /token/issue quoted in BENCHMARKS.md.
#
#   scripts/profile-issue.sh [OUT_DIR]    (default benches/results/<today>-profile)
#
# An unstripped release build (only relinks the release build), one worker,
# the shipped prod logging, a private redis-server; one warm-up request,
# counters zeroed, then ISSUES (400) issues with refresh tokens from one
# client over keep-alive connections. Writes callgrind.out.gz (the raw profile),
# annotate.txt (inclusive cost per function) and summary.txt (total and
# per-issue instructions, the commit). callgrind counts instructions, not
# seconds: the figures repeat whatever else the machine is doing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ISSUES=${ISSUES:-400}
OUT=${1:-benches/results/$(date -u +%Y-%m-%d)-profile}
SECRET=profile-secret-0123456789

for tool in valgrind callgrind_control callgrind_annotate redis-server redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || { echo "profile-issue.sh: $tool is needed (apt-get install valgrind redis-server redis-tools)" >&2; exit 1; }
done

CARGO_PROFILE_RELEASE_STRIP=false cargo build --locked --release --bin tessera --example bench_tokens
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

# WORK, PIDS (killed on exit), free_port, start_redis
. scripts/lib/processes.sh

REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT"

PORT=$(free_port)
issue_config "$BIN/tessera" "$PORT" "$REDIS_PORT" profile "$SECRET" 1
(cd "$WORK" && TESSERA_ENV=prod TESSERA_CONFIG="$WORK/config.yaml" exec valgrind --tool=callgrind \
  --callgrind-out-file="$WORK/callgrind.out" "$BIN/tessera" serve >"$WORK/tessera.out" 2>&1) &
VG_PID=$!
PIDS+=("$VG_PID")
wait_ready "$PORT" 600

BASE="http://127.0.0.1:$PORT"
# warm-up: the first request pays the Argon2id check and the scripts' loads
"$BIN/examples/bench_tokens" "$BASE" profile "$SECRET" 1 1 "$WORK/w.txt" "$WORK/wr.txt"
# zero the counters of this valgrind (start-up, the dummy hash and the
# warm-up's Argon2id check are not part of the profile)
ctl() { # command: callgrind_control on our valgrind, which must answer OK
  local out; out=$(callgrind_control "$1" "$VG_PID" 2>&1) || true
  case "$out" in *OK*) ;; *) echo "profile-issue.sh: callgrind_control $1 failed: $out" >&2; exit 1 ;; esac
}
ctl -z
"$BIN/examples/bench_tokens" "$BASE" profile "$SECRET" 100 "$ISSUES" "$WORK/a.txt" "$WORK/r.txt"
ctl -d
sleep 1

mkdir -p "$OUT"
# the dump made by -d (callgrind.out.1), not the final one written at exit
PROFILE=$(ls -t "$WORK"/callgrind.out.* | head -1)
gzip -9 -c "$PROFILE" >"$OUT/callgrind.out.gz"
callgrind_annotate --inclusive=yes "$PROFILE" >"$WORK/annotate.txt" 2>/dev/null
head -80 "$WORK/annotate.txt" >"$OUT/annotate.txt"
TOTAL=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$WORK/annotate.txt")
{
  echo "commit: $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "issues: $ISSUES (after one warm-up; counters zeroed before them)"
  echo "instructions: $TOTAL"
  echo "per issue: $((TOTAL / ISSUES))"
  echo "inclusive shares of named functions (of the total):"
  for f in 'TokenService>::issue' 'KeySet::sign' 'ed25519' 'create_session' 'audit::emit' 'log4rs' 'authenticate' 'argon2' 'malloc' 'tokio::time'; do
    awk -v f="$f" -v t="$TOTAL" 'index($0, f) { gsub(",", "", $1); if ($1+0 > best) best=$1+0 }
      END { if (best) printf "  %-22s %5.1f%%\n", f, 100*best/t; else printf "  %-22s  (not seen)\n", f }' \
      "$WORK/annotate.txt"
  done
} | tee "$OUT/summary.txt"
echo "profile-issue.sh: wrote $OUT"
