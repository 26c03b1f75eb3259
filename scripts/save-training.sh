#!/usr/bin/env bash
# Exports every run in runs/train to models/ (weights and model card) and copies the checkpoints
# of the from-scratch runs (hyperprior q3 and the recurrent ones) to models/resume, where a later
# session resumes them from (scripts/train-photo.sh). A run with a decayed copy (`NAME-decay`)
# ships as that copy, under its own name. Fine-tuned runs and decayed copies are not kept: they
# are redone from the main run or the model they started from.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
R=${RUNS:-runs/train}
for dir in "$R"/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  [ -e "$dir/resume.json" ] || continue
  shipped=$dir
  case "$name" in *-decay) continue ;; esac
  [ -e "$dir-decay/resume.json" ] && shipped="$dir-decay"
  "$TESSERA" train export --run "$shipped" --out "models/$name.safetensors" --force
  # Only runs that started from scratch keep their checkpoints; the others start from a model.
  if ! grep -q '"init_from": *"' "$dir/resume.json"; then
    mkdir -p "models/resume/$name"
    cp "$dir"/resume-model.bpk "$dir"/resume-optim.bpk "$dir"/resume.json "$dir"/train.csv "$dir"/valid.csv "models/resume/$name/" 2>/dev/null || true
  fi
done
du -sh models
