#!/usr/bin/env bash
# The SGD levers tried on the fast recipe before it took Muon (PyTorch side, 4 epochs unless named, real
# data): each a variant of sepconv/recipes/fast.yaml with SGD alone for 4 epochs (the recipe as it was,
# lr 0.2; the earlier rows name lr 0.1, at which they ran), tested with the last checkpoint, plus flip
# test-time augmentation of it, and the fit's wall time. benchmarks/fast_seeds.py compares SGD and Muon.
# Usage: scripts/fast_levers.sh [RUNS_DIR]   (about 80 s per variant on an idle 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/fast-levers}
bin=.venv/bin
fast=sepconv/recipes/fast.yaml
declare -A variants=(
    [01-lr-0.1-no-smoothing]="--model.lr=0.1 --model.label_smoothing=0"
    [02-lr-0.1-no-smoothing-5-epochs]="--model.lr=0.1 --model.label_smoothing=0 --trainer.max_epochs=5"
    [03-lr-0.1-no-smoothing-augment]="--model.lr=0.1 --model.label_smoothing=0 --data.augment=true"
    [04-lr-0.1-no-smoothing-ema]="--model.lr=0.1 --model.label_smoothing=0 --trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging --trainer.callbacks.decay=0.998"
    [05-lr-0.1]="--model.lr=0.1"
    [06-lr-0.1-smoothing-0.2]="--model.lr=0.1 --model.label_smoothing=0.2"
    [07-lr-0.05-momentum-0.95]="--model.lr=0.05 --model.momentum=0.95"
    [08-lr-0.15-warmup-0.3]="--model.lr=0.15 --model.warmup_epochs=0.3"
    [09-fast]=""
    [10-batch-64-lr-0.1]="--data.batch_size=64 --model.lr=0.1"
    [11-3-epochs-lr-0.1]="--trainer.max_epochs=3 --model.lr=0.1"
    [12-3-epochs-batch-64]="--trainer.max_epochs=3 --data.batch_size=64 --model.lr=0.07 --model.warmup_epochs=0.3"
    [13-3-epochs-batch-32]="--trainer.max_epochs=3 --data.batch_size=32 --model.lr=0.05 --model.warmup_epochs=0.3"
    [14-3-epochs]="--trainer.max_epochs=3"
    [15-3-epochs-batch-64-lr-0.15]="--trainer.max_epochs=3 --data.batch_size=64 --model.lr=0.15 --model.warmup_epochs=0.3"
    [16-batch-64-lr-0.15]="--data.batch_size=64 --model.lr=0.15"
    [17-batch-64-lr-0.2]="--data.batch_size=64"
)
for name in $(printf '%s\n' "${!variants[@]}" | sort); do
    dir=$runs/$name
    [ -f "$dir/tta.txt" ] && continue
    start=$(date +%s)
    # shellcheck disable=SC2086
    $bin/sepconv-torch fit --config $fast --model.optimizer=sgd --trainer.max_epochs=4 ${variants[$name]} \
        --trainer.default_root_dir=$dir \
        --trainer.enable_progress_bar=false
    echo "fit $(($(date +%s) - start)) s" > "$dir/time.txt"
    $bin/python scripts/flip_tta.py "$dir"/lightning_logs/version_0/checkpoints/last.ckpt > "$dir/tta.txt"
done
for name in $(printf '%s\n' "${!variants[@]}" | sort); do
    printf '%s\t%s\t%s\n' "$name" "$(cat "$runs/$name/tta.txt")" "$(cat "$runs/$name/time.txt")"
done
