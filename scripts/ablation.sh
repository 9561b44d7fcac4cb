#!/usr/bin/env bash
# What each change of the tuned recipe buys (PyTorch side, 10 epochs each, real data), applied cumulatively:
#   reference -> +lecun_normal_dw init -> +Nesterov momentum 0.9 -> +batch 64, lr 0.05, cosine with 1-epoch
#   warm-up -> +flip/shift augmentation (= the tuned recipe).
# Usage: scripts/ablation.sh [RUNS_DIR]   (about 5 min per step on an idle 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/ablation}
bin=.venv/bin
ref=sepconv/recipes/reference.yaml
declare -A steps=(
    [1-lecun]="--model.initializer=lecun_normal_dw"
    [2-nesterov]="--model.initializer=lecun_normal_dw --model.momentum=0.9 --model.nesterov=true"
    [3-cosine-bs64]="--config sepconv/recipes/tuned.yaml --data.augment=false"
    [4-augment]="--config sepconv/recipes/tuned.yaml --data.augment=true"
)
for name in $(printf '%s\n' "${!steps[@]}" | sort); do
    dir=$runs/$name
    [ -f "$dir/lightning_logs/version_0/test_metrics.json" ] && continue  # test writes beside the run
    # shellcheck disable=SC2086
    $bin/sepconv-torch fit --config $ref ${steps[$name]} --trainer.default_root_dir=$dir --trainer.enable_progress_bar=false
    # shellcheck disable=SC2086
    $bin/sepconv-torch test --config $ref ${steps[$name]} --ckpt_path=best --trainer.default_root_dir=$dir \
        --trainer.logger=false --trainer.enable_progress_bar=false
done
for name in $(printf '%s\n' "${!steps[@]}" | sort); do
    printf '%s\t%s\n' "$name" "$($bin/python -c "import json,sys; print(round(json.load(open(sys.argv[1]))['test_accuracy'], 4))" "$runs/$name/lightning_logs/version_0/test_metrics.json")"
done
