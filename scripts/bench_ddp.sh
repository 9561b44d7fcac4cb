#!/usr/bin/env bash
# Step time of `sepconv-torch fit` with 1 process against 2 DDP processes (gloo) on this machine's CPU.
# Per-step time = (wall time of a 260-step epoch - wall time of a 20-step epoch) / 240, which removes
# start-up, data loading and validation. Usage: scripts/bench_ddp.sh [OUT_DIR]
set -euo pipefail
out=${1:-$(mktemp -d)}
fit() {  # name, steps, threads, extra args...
    local name=$1 steps=$2 threads=$3
    shift 3
    local start end
    start=$(date +%s.%N)
    OMP_NUM_THREADS=$threads sepconv-torch fit --trainer.accelerator=cpu --trainer.max_epochs=1 \
        --trainer.limit_train_batches="$steps" --trainer.limit_val_batches=1 --trainer.logger=false \
        --trainer.enable_progress_bar=false --trainer.enable_model_summary=false \
        --trainer.default_root_dir="$out/$name-$steps" "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
row() {  # label, threads, extra args...
    local label=$1 threads=$2
    shift 2
    local short long
    short=$(fit "$label" 20 "$threads" "$@")
    long=$(fit "$label" 260 "$threads" "$@")
    printf '%-48s %8.1f ms/step\n' "$label" "$(echo "($long - $short) * 1000 / 240" | bc -l)"
}
lscpu | grep 'Model name'
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
row "1 process, batch 32, 1 thread" 1 --data.batch_size=32
row "1 process, batch 64, 1 thread" 1 --data.batch_size=64
row "1 process, batch 32, 2 threads" 2 --data.batch_size=32
row "1 process, batch 64, 2 threads" 2 --data.batch_size=64
row "2 processes (ddp), 32 each = 64, 1 thread each" 1 --data.batch_size=32 --trainer.strategy=ddp --trainer.devices=2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
