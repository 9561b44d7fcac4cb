#!/usr/bin/env bash
# Full 10-epoch runs of both recipes in both frameworks on the real data (about 30-40 min on 2 cores),
# then the Markdown tables quoted in README.md. Usage: scripts/reproduce.sh [RUNS_DIR] [RECIPE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs}
shift || true
recipes=${*:-reference tuned}
bin=.venv/bin
for recipe in $recipes; do
    $bin/sepconv-torch fit --config sepconv/recipes/$recipe.yaml --trainer.default_root_dir=$runs/torch-$recipe \
        --trainer.enable_progress_bar=false
    $bin/sepconv-torch test --config sepconv/recipes/$recipe.yaml --ckpt_path=best \
        --trainer.default_root_dir=$runs/torch-$recipe --trainer.logger=false --trainer.enable_progress_bar=false
    $bin/sepconv-keras train --recipe $recipe --output-dir $runs/keras-$recipe
done
for recipe in $recipes; do
    $bin/python scripts/results_table.py $runs/torch-$recipe $runs/keras-$recipe
done
