"""Print the per-epoch tables and test accuracies of finished runs as Markdown (for README.md).

Usage: python scripts/results_table.py RUN_DIR [RUN_DIR ...]
A run directory is a ``sepconv-keras train --output-dir`` or a ``sepconv-torch``
``--trainer.default_root_dir`` (its newest ``lightning_logs/version_*`` is read).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def metrics_file(run: Path) -> Path:
    if (run / "metrics.csv").is_file():
        return run / "metrics.csv"
    candidates = sorted(run.glob("lightning_logs/version_*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise SystemExit(f"{run}: no metrics.csv (is the run finished?)")
    return candidates[-1]


def main(runs: list[str]) -> None:
    for name in runs:
        run = Path(name)
        rows = list(csv.DictReader(metrics_file(run).open()))
        print(f"\n**{run.name}**\n")
        print("| epoch | " + " | ".join(r["epoch"] for r in rows) + " |")
        print("|---|" + "---|" * len(rows))
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            print(f"| {key} | " + " | ".join(f"{float(r[key]):.3f}" for r in rows) + " |")
        test = json.loads((metrics_file(run).parent / "test_metrics.json").read_text())  # beside the run
        print(f"\ntest accuracy: {test['test_accuracy']:.4f} (test loss {test['test_loss']:.4f})")
        if "best_test_accuracy" in test:
            print(f"best-val_loss checkpoint: test accuracy {test['best_test_accuracy']:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
