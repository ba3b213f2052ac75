#!/usr/bin/env bash
# The fuzz targets (fuzz/, docs/fuzzing.md) must not rot: they are built on
# every CI run, and run for a few seconds each when a nightly toolchain is
# there (libFuzzer's instrumentation needs nightly; rustup cannot fetch one
# where only package registries are reachable, so without it this says so
# and only checks that the targets compile).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECS:-5}
# FUZZ_RESULTS=DIR keeps a record of the run (commit, date, each target's
# final libFuzzer lines) in DIR/fuzz-<date>.txt: the figures docs/fuzzing.md
# quotes come from such files.
RESULTS=${FUZZ_RESULTS:-}

echo "fuzz-smoke: the targets compile (stable, cargo check)"
cargo check --manifest-path fuzz/Cargo.toml --bins

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz-smoke: no nightly toolchain on this machine: targets checked, not run"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
RECORD=/dev/null
if [ -n "$RESULTS" ]; then
  mkdir -p "$RESULTS"
  RECORD=$RESULTS/fuzz-$(date -u +%Y%m%dT%H%M%SZ).txt
  {
    echo "commit: $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "each target: cargo +nightly fuzz run -O <target> -- -max_total_time=$SECS"
  } >"$RECORD"
fi
for target in $(cargo fuzz list); do
  echo "fuzz-smoke: $target for ${SECS}s"
  # A crash leaves an artifact under fuzz/artifacts and a non-zero status.
  if ! cargo +nightly fuzz run -O "$target" -- -max_total_time="$SECS" >"$LOG" 2>&1; then
    tail -40 "$LOG" >&2
    echo "fuzz-smoke: $target failed" >&2
    exit 1
  fi
  grep -E '^Done' "$LOG"
  { echo "## $target"; grep -E '^(#[0-9]+.*DONE|Done)|crash' "$LOG" || true; } >>"$RECORD"
done
[ "$RECORD" != /dev/null ] && echo "fuzz-smoke: wrote $RECORD"
echo "fuzz-smoke: passed"
