"""``sepconv-keras train``: a short real-data run leaves checkpoint, TensorBoard events, PNG, CSV, metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sepconv.schedule import lr_factor
from sepconv_keras.train import main

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keras-run")
    assert (
        main(
            [
                "train",
                "--epochs",
                "2",
                "--steps-per-epoch",
                "20",
                "--output-dir",
                str(out),
                "--h5",
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    return out


def test_outputs(run_dir: Path) -> None:
    assert (run_dir / "best.keras").is_file() and (run_dir / "fashion_mnist_model.h5").is_file()
    assert not list(run_dir.glob(".*.partial.*"))  # AtomicModelCheckpoint renamed every save into place
    assert list((run_dir / "tensorboard").glob("**/events.out.tfevents.*"))
    assert (run_dir / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    results = json.loads((run_dir / "test_metrics.json").read_text())
    assert 0 <= results["test_accuracy"] <= 1 and results["epochs_run"] == 2


def test_checkpoint_loads_safely(run_dir: Path) -> None:
    import keras

    model = keras.models.load_model(run_dir / "best.keras", safe_mode=True, compile=False)
    assert [layer.name for layer in model.layers][:2] == [
        "conv1",
        "sepconv1",
    ] and model.count_params() == 184_234


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "--epochs must be positive"),
        (["--recipe", "nonesuch"], "recipe 'nonesuch': not one of"),
    ],
)
def test_bad_options_are_named(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    assert main(["train", "--output-dir", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sepconv-keras: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_cosine_schedule_matches_keras() -> None:
    """The Keras CosineDecay the tuned recipe builds follows :func:`sepconv.schedule.lr_factor`."""
    import keras

    total, warmup, lr = 1000, 100, 0.05
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, warmup_target=lr, warmup_steps=warmup
    )
    for step in (0, 1, 50, 99, 100, 101, 500, 999, 1000):
        np.testing.assert_allclose(
            float(schedule(step)), lr * lr_factor(step, "cosine", total, warmup), rtol=1e-5, atol=1e-9
        )
