#!/usr/bin/env bash
# Figures that tests print (failover windows, WAIT cost and isolation,
# fault timings), kept as a result file that docs can name:
#
#   scripts/test-figures.sh NAME FILTER [RUNS]
#
# runs `cargo nextest run --test api --no-capture FILTER` RUNS times (3) and
# writes every run's output, with the commit, the date and the load before
# each run, to benches/results/<today>-NAME/NAME.txt. The tests assert
# their bounds on every run; this script only keeps what they print.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:?usage: test-figures.sh NAME FILTER [RUNS]}
FILTER=${2:?usage: test-figures.sh NAME FILTER [RUNS]}
RUNS=${3:-3}
OUT=benches/results/$(date -u +%Y-%m-%d)-$NAME/$NAME.txt
mkdir -p "$(dirname "$OUT")"
LOG=$(mktemp)
trap 'rm -f "$LOG" "$OUT.partial"' EXIT
cargo nextest run --locked --test api --no-run >/dev/null 2>&1
{
  echo "# scripts/test-figures.sh $NAME '$FILTER' $RUNS"
  echo "# commit $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty || true); debug build; loopback; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for run in $(seq "$RUNS"); do
    echo "## run $run, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    if ! cargo nextest run --locked --test api --no-capture "$FILTER" >"$LOG" 2>&1; then
      cat "$LOG" >&2
      echo "test-figures.sh: run $run failed" >&2
      exit 1
    fi
    grep -vE '^\s*(Compiling|Finished|Blocking|Running|Starting|Summary)|^─+$|^\s*$' "$LOG" || true
  done
} >"$OUT.partial"
mv "$OUT.partial" "$OUT"
cat "$OUT"
echo "test-figures.sh: wrote $OUT"
