#!/usr/bin/env bash
# Trains the checkerboard context models on the shipped hyperprior ladder and exports them to
# models/checkerboard-qK.safetensors. q3 trains first; the other rates start from it (their
# bases are fine-tunes of the hyperprior q3, so its context is a close start). Each run resumes
# from its last checkpoint: run the script again to continue. Each stage line: quality, step
# target, step from which the learning rate drops to a tenth, [run or model file to start from].
#
# When the hyperprior ladder is retrained from a later state of the same q3 run, its latents keep
# their meaning, so the q3 context starts from the shipped one (trained on the earlier base) and
# needs far fewer steps; delete the file, or set CTX_Q3_FRESH=1, to train it from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
R=${RUNS:-runs/ctx}
Q3="3 7000 6300"
[ -e models/checkerboard-q3.safetensors ] && [ -z "${CTX_Q3_FRESH:-}" ] &&
  Q3="3 2000 1700 models/checkerboard-q3.safetensors"
STAGES=${STAGES:-"
$Q3
1 1000 850 $R/checkerboard-q3
2 1000 850 $R/checkerboard-q3
4 1000 850 $R/checkerboard-q3
5 1000 850 $R/checkerboard-q3
"}
echo "$STAGES" | while read -r q steps decay from; do
  [ -z "$q" ] && continue
  dir=$R/checkerboard-q$q
  args=(train context --base "models/hyperprior-q$q.safetensors" --dir "$dir" --steps "$steps"
    --decay-from "$decay" --validate-every 500)
  [ -n "${from:-}" ] && [ ! -e "$dir/resume.json" ] && args+=(--init-from "$from")
  echo "== $(date -u +%H:%M) checkerboard q$q to step $steps in $dir"
  "$TESSERA" "${args[@]}"
  "$TESSERA" train export --run "$dir" --out "models/checkerboard-q$q.safetensors" --force
done
