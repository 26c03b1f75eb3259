#!/usr/bin/env bash
# Trains one variant of the recurrent codec, resuming its run from the last checkpoint (on a
# fresh machine, from the one committed in models/resume): run it again to continue. Then, as
# for the photo models, a fresh copy of the run (`-decay`) trains on at a tenth of the learning
# rate, binarising with the sign as coding does; that copy is the model that ships, so the
# main run can go on later.
# `scripts/save-training.sh` exports the model and copies the main run's resume state to commit.
#   VARIANT (default resgru-scaling), ITERATIONS per crop (default 16), MINUTES for the main run
#   (default 60), STEPS target (default 100000), DECAY_STEPS (default 1500) and DECAY_MINUTES
#   (default 15; 0 skips the stage), PATCH and BATCH (the crops: by default the run's, 32×32 in
#   batches of 16 for a new run; a run may go on to larger crops, its model card lists each stage).
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
args=(train rnn --variant "$VARIANT" --iterations "${ITERATIONS:-16}")
[ -n "${PATCH:-}" ] && args+=(--patch "$PATCH")
[ -n "${BATCH:-}" ] && args+=(--batch "$BATCH")
echo "== $(date -u +%H:%M) rnn $VARIANT in $dir"
"$TESSERA" "${args[@]}" --dir "$dir" --steps "${STEPS:-100000}" --minutes "${MINUTES:-60}"
[ "${DECAY_MINUTES:-15}" = 0 ] && exit 0
step=$(sed -n 's/.*"step": \([0-9][0-9]*\).*/\1/p' "$dir/resume.json")
rm -rf "$dir-decay" && mkdir -p "$dir-decay" && cp "$dir"/* "$dir-decay"/
echo "== $(date -u +%H:%M) rnn $VARIANT at a tenth of the rate from step $step in $dir-decay"
"$TESSERA" "${args[@]}" --dir "$dir-decay" --steps $((step + ${DECAY_STEPS:-1500})) \
  --minutes "${DECAY_MINUTES:-15}" --decay-from "$step" --sign-from "$step"
