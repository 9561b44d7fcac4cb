#!/usr/bin/env bash
# The levers tried on the fast recipe (PyTorch side, 4 epochs unless named, real data), each a variant of
# sepconv/recipes/fast.yaml, tested with the last checkpoint, plus flip test-time augmentation of it.
# Usage: scripts/fast_levers.sh [RUNS_DIR]   (about 2 min per variant on an idle 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/fast-levers}
bin=.venv/bin
fast=sepconv/recipes/fast.yaml
declare -A variants=(
    [1-no-smoothing]="--model.label_smoothing=0"
    [2-no-smoothing-5-epochs]="--model.label_smoothing=0 --trainer.max_epochs=5"
    [3-no-smoothing-augment]="--model.label_smoothing=0 --data.augment=true"
    [4-no-smoothing-ema]="--model.label_smoothing=0 --trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging --trainer.callbacks.decay=0.998"
    [5-fast]=""
)
for name in $(printf '%s\n' "${!variants[@]}" | sort); do
    dir=$runs/$name
    [ -f "$dir/tta.txt" ] && continue
    # shellcheck disable=SC2086
    $bin/sepconv-torch fit --config $fast ${variants[$name]} --trainer.default_root_dir=$dir \
        --trainer.enable_progress_bar=false
    $bin/python scripts/flip_tta.py "$dir"/lightning_logs/version_0/checkpoints/last.ckpt > "$dir/tta.txt"
done
for name in $(printf '%s\n' "${!variants[@]}" | sort); do
    printf '%s\t%s\n' "$name" "$(cat "$runs/$name/tta.txt")"
done
