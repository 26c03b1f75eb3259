#!/usr/bin/env bash
# Trains the photo models in stages, resuming each run from its last checkpoint: run it again
# to continue. Each line: model, λ, run folder, step target, [run to start from].
# The mid-rate models are trained from scratch; the other rates are fine-tuned from them.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
STAGES=${STAGES:-"
hyperprior 0.0067 runs/train/hyperprior-q3 6000
factorized 0.0067 runs/train/factorized-q3 3000
hyperprior 0.0067 runs/train/hyperprior-q3 20000
"}
echo "$STAGES" | while read -r model lambda dir steps from; do
  [ -z "$model" ] && continue
  args=(train photo --model "$model" --lambda "$lambda" --dir "$dir" --steps "$steps")
  [ -n "${from:-}" ] && [ ! -e "$dir/resume.json" ] && args+=(--init-from "$from")
  echo "== $model λ=$lambda to step $steps in $dir"
  "$TESSERA" "${args[@]}"
done
