#!/usr/bin/env bash
# Trains the photo models and the recurrent codec in stages, resuming each run from its last
# checkpoint: run it again to continue. Each line: model, λ (- for rnn), run folder, step
# target, minutes at most for this invocation, [run to start from when the folder is new]. The mid-rate (q3) models are trained
# from scratch; the other rates are fine-tuned from them. `touch DIR/STOP` ends a stage early
# with a checkpoint. `scripts/save-training.sh` copies the checkpoints to commit into
# models/resume.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
# A higher rate than CompressAI's 1e-4 for the first steps of these short CPU runs.
LR=${LR:-4e-4}
R=${RUNS:-runs/train}
STAGES=${STAGES:-"
hyperprior 0.0067 $R/hyperprior-q3 3000 35
factorized 0.0067 $R/factorized-q3 2000 20
rnn-gru-additive - $R/rnn-gru-additive 4000 30
hyperprior 0.0018 $R/hyperprior-q1 600 10 $R/hyperprior-q3
hyperprior 0.0035 $R/hyperprior-q2 600 10 $R/hyperprior-q3
hyperprior 0.0130 $R/hyperprior-q4 600 10 $R/hyperprior-q3
factorized 0.0018 $R/factorized-q1 400 6 $R/factorized-q3
factorized 0.0035 $R/factorized-q2 400 6 $R/factorized-q3
factorized 0.0130 $R/factorized-q4 400 6 $R/factorized-q3
hyperprior 0.0067 $R/hyperprior-q3 100000 600
"}
echo "$STAGES" | while read -r model lambda dir steps minutes from; do
  [ -z "$model" ] && continue
  # A fresh machine resumes from the checkpoint committed in models/resume.
  committed="models/resume/$(basename "$dir")"
  if [ ! -e "$dir/resume.json" ] && [ -e "$committed/resume.json" ]; then
    mkdir -p "$dir" && cp "$committed"/* "$dir"/
  fi
  case "$model" in
    # The recurrent codec: `rnn-<variant>`, no λ (its rate is the number of iterations).
    rnn-*) args=(train rnn --variant "${model#rnn-}" --dir "$dir" --steps "$steps" --minutes "$minutes") ;;
    *) args=(train photo --model "$model" --lambda "$lambda" --dir "$dir" --steps "$steps" --minutes "$minutes" --lr "$LR") ;;
  esac
  [ -n "${from:-}" ] && [ ! -e "$dir/resume.json" ] && args+=(--init-from "$from")
  echo "== $(date -u +%H:%M) $model λ=$lambda to step $steps (≤ $minutes min) in $dir"
  "$TESSERA" "${args[@]}"
done
