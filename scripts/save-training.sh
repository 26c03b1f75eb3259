#!/usr/bin/env bash
# Exports every photo run in runs/train to models/ (weights and model card) and copies the
# checkpoints of the from-scratch runs (q3 and the recurrent ones) to models/resume, where a later session resumes
# them from (scripts/train-photo.sh). Fine-tuned runs are not kept: they restart from q3.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
R=${RUNS:-runs/train}
for dir in "$R"/*/; do
  name=$(basename "$dir")
  [ -e "$dir/resume.json" ] || continue
  "$TESSERA" train export --run "$dir" --out "models/$name.safetensors" --force
  case "$name" in
    *-q3 | rnn-*)
      mkdir -p "models/resume/$name"
      cp "$dir"/resume-model.bpk "$dir"/resume-optim.bpk "$dir"/resume.json "$dir"/train.csv "$dir"/valid.csv "models/resume/$name/" 2>/dev/null || true
      ;;
  esac
done
du -sh models
