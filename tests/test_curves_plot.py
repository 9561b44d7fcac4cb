"""The learning-curve chart (both frameworks): labelled axes and one tick per whole epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepconv.curves import learning_curves_figure, plot_learning_curves


def _history(epochs: int) -> list[dict[str, float]]:
    return [
        {"epoch": e, "loss": 1 / e, "accuracy": 1 - 0.5 / e, "val_loss": 1.1 / e, "val_accuracy": 1 - 0.6 / e}
        for e in range(1, epochs + 1)
    ]


@pytest.mark.parametrize("epochs", [1, 2, 10, 30])
def test_axes_are_labelled_with_whole_epoch_ticks(epochs: int) -> None:
    import matplotlib.pyplot as plt

    fig = learning_curves_figure(_history(epochs))
    try:
        (ax,) = fig.axes
        assert ax.get_xlabel() == "epoch"
        assert ax.get_ylabel() == "loss / accuracy"
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        if epochs <= 10:  # a short run gets a tick at each epoch
            assert ticks == list(range(1, epochs + 1)), ticks
        assert ax.get_ylim() == (0.0, 3.0)
    finally:
        plt.close(fig)


def test_png_is_written(tmp_path: Path) -> None:
    path = plot_learning_curves(_history(1), tmp_path / "curves.png", title="one epoch")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
