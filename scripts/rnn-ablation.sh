#!/usr/bin/env bash
# The recurrent codec's ablation: trains every unit × reconstruction framework for the same
# number of steps from scratch, exports each to $R/models, then measures them all on Kodak
# beside cjpeg in one lab run. Run it again to continue: finished runs are skipped, cut-off
# ones resume from their last checkpoint.
#   STEPS (default 1000): training steps per variant; IMAGES (default 4): Kodak images.
set -euo pipefail
cd "$(dirname "$0")/.."
TESSERA=${TESSERA:-target/release/tessera}
R=${RUNS:-runs/ablation}
STEPS=${STEPS:-1000}
IMAGES=${IMAGES:-4}
UNITS=${UNITS:-"lstm alstm gru resgru"}
FRAMEWORKS=${FRAMEWORKS:-"oneshot additive scaling"}
mkdir -p "$R/models"
codecs=cjpeg
for unit in $UNITS; do
  for framework in $FRAMEWORKS; do
    v=$unit-$framework
    echo "== $(date -u +%H:%M) $v to step $STEPS"
    "$TESSERA" train rnn --variant "$v" --dir "$R/$v" --steps "$STEPS"
    "$TESSERA" train export --run "$R/$v" --out "$R/models/rnn-$v.safetensors" --force
    codecs+=",rnn+variant=$v"
  done
done
echo "== $(date -u +%H:%M) bench"
TESSERA_MODELS="$R/models" "$TESSERA" bench --dataset kodak --images "$IMAGES" --codecs "$codecs" \
  --qualities "rnn=1,2,4,8,12,16" --out "$R/bench" --anchors cjpeg
