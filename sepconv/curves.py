"""Learning curves as the reference plots them, and the per-epoch metrics as CSV (both frameworks).

The chart: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` against the 1-based epoch
(one tick per whole epoch), one figure, grid on, y from 0 to 3 (as the tutorial's
``plot_learning_curves``). Epochs count from 1 here, in ``metrics.csv`` and in checkpoint names.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CURVES", "learning_curves_figure", "plot_learning_curves", "write_curves", "write_metrics_csv"]

CURVES: tuple[str, ...] = ("loss", "accuracy", "val_loss", "val_accuracy")


def write_metrics_csv(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """One row per epoch: ``epoch`` (1-based) then every metric seen, curves first."""
    keys = [k for k in CURVES if any(k in row for row in history)]
    keys += sorted({k for row in history for k in row} - set(keys) - {"epoch"})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for i, row in enumerate(history, start=1):
            writer.writerow([int(row.get("epoch", i)), *(f"{row[k]:.6f}" if k in row else "" for k in keys)])
    os.replace(tmp, path)
    return path


def learning_curves_figure(history: Sequence[Mapping[str, float]], title: str = "") -> Any:
    """The four curves on one matplotlib ``Figure``: x the 1-based epoch (whole-epoch ticks), y in [0, 3].

    A 1-epoch run shows the single epoch from 0.5 to 1.5, not a float axis around 1.0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row.get("epoch", i)) for i, row in enumerate(history, start=1)]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key in CURVES:
        points = [(e, row[key]) for e, row in zip(epochs, history, strict=False) if key in row]
        if points:
            ax.plot(*zip(*points, strict=False), marker="o", label=key)
    if epochs:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss / accuracy")
    ax.set_ylim(0, 3)
    ax.grid(True)
    if ax.lines:
        ax.legend()
    if title:
        ax.set_title(title)
    return fig


def plot_learning_curves(history: Sequence[Mapping[str, float]], path: Path, title: str = "") -> Path:
    """:func:`learning_curves_figure` saved as PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig = learning_curves_figure(history, title)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def write_curves(history: Sequence[Mapping[str, float]], out_dir: Path, title: str = "") -> tuple[Path, Path]:
    """Write ``learning_curves.png`` and ``metrics.csv`` into ``out_dir``."""
    out_dir = Path(out_dir)
    return (
        plot_learning_curves(history, out_dir / "learning_curves.png", title),
        write_metrics_csv(history, out_dir / "metrics.csv"),
    )
