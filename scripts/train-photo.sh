#!/usr/bin/env bash
# Trains a photo model's quality ladder in stages, resuming each run from its last checkpoint:
# run it again to continue. Each stage line: model, λ, run folder, step target, minutes at most for
# this invocation, [run to start from when the folder is new], [step from which the learning rate
# drops to a tenth, or -], [step from which the synthesis trains on rounded latents,
# `--round-from`].
#
# The hyperprior schedule: the mid-rate model (q3) trains from scratch at the full rate for as
# long as there is time; a copy of it (`copy:` run, its step target counted from the copied step
# with `+`) ends the schedule at a tenth of the rate, and that copy is the model that ships, so the
# main run can go on later. Every hyperprior ends with steps whose synthesis sees the latents
# rounded, as it decodes them. q1, q2 and q4 are fine-tuned from the decayed q3, q5 from q4. Delete
# their folders to redo them from a newer q3. The factorised models start from the shipped
# hyperprior q3's transforms (their own density learned afresh): q3 first, the other rates from it;
# each then goes on in a decayed copy whose synthesis sees the latents rounded, and ships as that.
# `touch DIR/STOP` ends a stage early with a checkpoint; `scripts/save-training.sh` exports the
# models and copies the resume state into models/resume.
#
#   MODEL=hyperprior|factorized  MINUTES=main-stage minutes  STAGES=own stage lines
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
# A higher rate than CompressAI's 1e-4 for these short CPU runs; the decay stage brings it down.
LR=${LR:-4e-4}
R=${RUNS:-runs/train}
M=${MODEL:-hyperprior}
Q3=models/hyperprior-q3.safetensors
if [ "$M" = factorized ]; then
  SCHEDULE="
$M 0.0067 $R/$M-q3 6000 50 $Q3 5400
$M 0.0018 $R/$M-q1 1000 12 $R/$M-q3 850
$M 0.0035 $R/$M-q2 1000 12 $R/$M-q3 850
$M 0.0130 $R/$M-q4 1000 12 $R/$M-q3 850
$M 0.0067 $R/$M-q3-decay +800 10 copy:$R/$M-q3 - +0
$M 0.0018 $R/$M-q1-decay +2300 30 copy:$R/$M-q1 - +1500
$M 0.0035 $R/$M-q2-decay +2300 30 copy:$R/$M-q2 - +1500
$M 0.0130 $R/$M-q4-decay +2300 30 copy:$R/$M-q4 - +1500
"
else
  SCHEDULE="
$M 0.0067 $R/$M-q3 100000 ${MINUTES:-90}
$M 0.0067 $R/$M-q3-decay +4000 60 copy:$R/$M-q3 - +2400
$M 0.0018 $R/$M-q1 3300 40 $R/$M-q3-decay 2200 2500
$M 0.0035 $R/$M-q2 3300 40 $R/$M-q3-decay 2200 2500
$M 0.0130 $R/$M-q4 3300 40 $R/$M-q3-decay 2200 2500
$M 0.0250 $R/$M-q5 3300 40 $R/$M-q4 2200 2500
"
fi
STAGES=${STAGES:-$SCHEDULE}
# A field of a run's resume.json (a number), or nothing.
field() { sed -n "s/.*\"$2\": \([0-9][0-9]*\).*/\1/p" "$1/resume.json"; }
echo "$STAGES" | while read -r model lambda dir steps minutes from decay round; do
  [ -z "$model" ] && continue
  [ "${decay:-}" = - ] && decay=
  # A fresh machine resumes from the checkpoint committed in models/resume.
  committed="models/resume/$(basename "$dir")"
  if [ ! -e "$dir/resume.json" ] && [ -e "$committed/resume.json" ]; then
    mkdir -p "$dir" && cp "$committed"/* "$dir"/
  fi
  args=(train photo --model "$model" --lambda "$lambda" --dir "$dir" --minutes "$minutes" --lr "$LR")
  case "${from:-}" in
    copy:*)
      if [ ! -e "$dir/resume.json" ]; then
        mkdir -p "$dir" && cp "${from#copy:}"/* "$dir"/
        decay=$(field "$dir" step)
      else
        decay=$(field "$dir" decay_from)
      fi
      ;;
    ?*) [ -e "$dir/resume.json" ] || args+=(--init-from "$from") ;;
  esac
  [[ "$steps" == +* ]] && steps=$((decay + ${steps#+}))
  [[ "${round:-}" == +* ]] && round=$((decay + ${round#+}))
  args+=(--steps "$steps")
  [ -n "${decay:-}" ] && args+=(--decay-from "$decay")
  [ -n "${round:-}" ] && args+=(--round-from "$round")
  echo "== $(date -u +%H:%M) $model λ=$lambda to step $steps (≤ $minutes min) in $dir"
  "$TESSERA" "${args[@]}"
done
