#!/usr/bin/env bash
# Trains one variant of the recurrent codec, resuming its run from the last checkpoint (on a
# fresh machine, from the one committed in models/resume): run it again to continue.
# `scripts/save-training.sh` exports the model and copies the resume state to commit.
#   VARIANT (default resgru-scaling), ITERATIONS per crop (default 16), MINUTES (default 60),
#   STEPS target (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
R=${RUNS:-runs/train}
VARIANT=${VARIANT:-resgru-scaling}
dir=$R/rnn-$VARIANT
committed=models/resume/rnn-$VARIANT
if [ ! -e "$dir/resume.json" ] && [ -e "$committed/resume.json" ]; then
  mkdir -p "$dir" && cp "$committed"/* "$dir"/
fi
echo "== $(date -u +%H:%M) rnn $VARIANT in $dir"
"$TESSERA" train rnn --variant "$VARIANT" --iterations "${ITERATIONS:-16}" --dir "$dir" \
  --steps "${STEPS:-100000}" --minutes "${MINUTES:-60}"
