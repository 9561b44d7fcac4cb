"""sepconv-torch predict's two files are written together at the end, or not at all."""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import sepconv.predictions
from sepconv.errors import TrainingError
from sepconv_torch.callbacks import ProbabilityWriter


def finished_run(tmp_path: Path, probabilities: np.ndarray) -> tuple[ProbabilityWriter, SimpleNamespace]:
    """A writer that has seen one batch of ``probabilities``, and a one-process trainer."""
    trainer = SimpleNamespace(
        world_size=1, is_global_zero=True, default_root_dir=str(tmp_path), datamodule=None
    )
    writer = ProbabilityWriter()
    writer.on_predict_epoch_start(trainer, None)
    rows = torch.from_numpy(probabilities)
    writer.write_on_batch_end(trainer, None, rows, list(range(len(rows))), None, 0, 0)
    return writer, trainer


def previous_pair(tmp_path: Path) -> tuple[bytes, bytes]:
    (tmp_path / "predictions.npy").write_bytes(b"previous npy")
    (tmp_path / "predictions.csv").write_bytes(b"previous csv")
    return b"previous npy", b"previous csv"


def test_both_files_are_written(tmp_path: Path) -> None:
    previous_pair(tmp_path)
    probabilities = np.full((3, 10), 0.1, dtype=np.float32)
    writer, trainer = finished_run(tmp_path, probabilities)
    writer.on_predict_epoch_end(trainer, None)
    assert np.array_equal(np.load(tmp_path / "predictions.npy"), probabilities)
    assert len((tmp_path / "predictions.csv").read_text().splitlines()) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv", "predictions.npy"]


def test_a_failed_csv_write_leaves_the_previous_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = previous_pair(tmp_path)
    real = sepconv.predictions.write_predictions_csv

    def disk_fills(path: Path, *args: object) -> Path:
        real(path, *args)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(sepconv.predictions, "write_predictions_csv", disk_fills)
    monkeypatch.setattr("sepconv_torch.callbacks.write_predictions_csv", disk_fills, raising=False)
    writer, trainer = finished_run(tmp_path, np.full((3, 10), 0.1, dtype=np.float32))
    with pytest.raises(OSError, match="No space left"):
        writer.on_predict_epoch_end(trainer, None)
    after = ((tmp_path / "predictions.npy").read_bytes(), (tmp_path / "predictions.csv").read_bytes())
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv", "predictions.npy"]


def test_non_finite_probabilities_stop_the_run_and_write_nothing(tmp_path: Path) -> None:
    before = previous_pair(tmp_path)
    probabilities = np.full((4, 10), 0.1, dtype=np.float32)
    probabilities[2, 3] = np.nan
    writer, trainer = finished_run(tmp_path, probabilities)
    with pytest.raises(TrainingError, match=r"^predict: 1 of 4 rows of probabilities hold NaN or Inf"):
        writer.on_predict_epoch_end(trainer, None)
    assert (
        (tmp_path / "predictions.npy").read_bytes(),
        (tmp_path / "predictions.csv").read_bytes(),
    ) == before
