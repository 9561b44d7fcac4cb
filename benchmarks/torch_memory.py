"""Peak resident memory of one-step ``sepconv-torch fit`` runs per training batch size, against the estimate.

Each batch size runs alone (one after another, never two at once)::

    sepconv-torch fit --data.batch_size B --trainer.max_epochs 1 --trainer.limit_train_batches 1
        --trainer.limit_val_batches 1 --trainer.enable_progress_bar false
        --trainer.enable_model_summary false --trainer.default_root_dir <temporary folder>

and its peak RSS is read from the kernel's accounting of that child (``os.wait4``). Prints, per batch
size, the peak, the estimate of :data:`sepconv_torch.memory.TORCH_CPU` and their ratio, then a
least-squares line through the peaks, with the date, CPU, commit and ``MemAvailable``. A batch size
the estimate says does not fit is refused by the command itself (status 2) and reported as such.

    python benchmarks/torch_memory.py                     # 256 1024 2048 4096 8192
    python benchmarks/torch_memory.py --batch-sizes 1024 4096
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from step_time import cpu_model

from sepconv.memory import GIB, available_memory
from sepconv_torch.memory import TORCH_CPU

ROOT = Path(__file__).resolve().parents[1]


def peak_rss(batch_size: int) -> tuple[int, int]:
    """``(exit status, peak RSS in bytes)`` of one one-step fit at ``batch_size``."""
    with tempfile.TemporaryDirectory() as root:
        command = [sys.executable, "-m", "sepconv_torch.cli", "fit", "--data.batch_size", str(batch_size)]
        command += ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1"]
        command += ["--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]
        command += ["--trainer.enable_model_summary", "false", "--trainer.default_root_dir", root]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode, usage.ru_maxrss * 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 2048, 4096, 8192])
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    available = available_memory()
    print(
        f"{datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores, commit {commit}, "
        f"MemAvailable {available / GIB if available else float('nan'):.1f} GiB"
    )
    print(f"{'batch':>6} {'peak GiB':>9} {'estimate GiB':>13} {'estimate/peak':>14}")
    measured: list[tuple[int, int]] = []
    for batch in args.batch_sizes:
        status, peak = peak_rss(batch)
        estimate = TORCH_CPU.need(batch)
        if status != 0:
            print(f"{batch:>6} {'exit ' + str(status):>9} {estimate / GIB:>13.2f}")
            continue
        measured.append((batch, peak))
        print(f"{batch:>6} {peak / GIB:>9.2f} {estimate / GIB:>13.2f} {estimate / peak:>14.3f}", flush=True)
    if len(measured) >= 2:
        slope, intercept = np.polyfit(*np.array(measured, dtype=np.float64).T, 1)
        print(f"least squares: {intercept / GIB:.2f} GiB + {slope / 1e6:.3f} MB per image of the batch")


if __name__ == "__main__":
    main()
