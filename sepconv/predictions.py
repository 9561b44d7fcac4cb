"""Predictions a person can read: ``predictions.csv`` with class names, beside the probabilities.

:func:`write_predictions` writes both files of a prediction run, ``predictions.npy`` and
``predictions.csv``, under private temporary names and renames them into place only once both are
complete (:func:`sepconv.paths.commit_together`): a run that fails, or a full disk, leaves the previous
pair as it was, and no half-written file.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from sepconv.classes import CLASS_NAMES
from sepconv.paths import commit_together, private_temp

__all__ = ["write_predictions", "write_predictions_csv"]


def write_predictions_csv(
    path: str | os.PathLike[str],
    probabilities: np.ndarray,
    labels: np.ndarray | None = None,
    files: list[str] | None = None,
) -> Path:
    """Write one row per image: ``index, label, predicted, probability`` and the ten probabilities.

    With ``files`` (your own images) a ``file`` column follows ``index``.

    ``probabilities`` is ``(N, 10)``; ``labels`` ``(N,)`` class indices or ``None`` (unknown: the
    ``label`` column stays empty). ``label`` and ``predicted`` are class names; ``probability`` is
    that of the predicted class; the last ten columns are named after the classes.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(CLASS_NAMES):
        raise ValueError(
            f"probabilities must be (N, {len(CLASS_NAMES)}), received shape {probabilities.shape}"
        )
    if labels is not None and len(labels) != len(probabilities):
        raise ValueError(f"{len(labels)} labels for {len(probabilities)} predictions")
    if files is not None and len(files) != len(probabilities):
        raise ValueError(f"{len(files)} file names for {len(probabilities)} predictions")
    path = Path(path)
    predicted = probabilities.argmax(axis=1)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        file_column = ["file"] if files is not None else []
        writer.writerow(["index", *file_column, "label", "predicted", "probability", *CLASS_NAMES])
        for i, (row, p) in enumerate(zip(probabilities, predicted, strict=True)):
            label = CLASS_NAMES[int(labels[i])] if labels is not None else ""
            name = [files[i]] if files is not None else []
            writer.writerow([i, *name, label, CLASS_NAMES[p], f"{row[p]:.6f}", *(f"{v:.6f}" for v in row)])
    return path


def write_predictions(
    folder: str | os.PathLike[str],
    probabilities: np.ndarray,
    labels: np.ndarray | None = None,
    files: list[str] | None = None,
) -> tuple[Path, Path]:
    """Write ``folder/predictions.npy`` (``probabilities``, ``(N, 10)`` float32) and ``predictions.csv``
    (:func:`write_predictions_csv`) together; returns both paths. ``folder`` is created if missing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    npy, csv_path = folder / "predictions.npy", folder / "predictions.csv"
    temps = (private_temp(npy), private_temp(csv_path))
    try:
        with open(temps[0], "wb") as f:  # np.save would append ".npy" to a path not ending in it
            np.save(f, np.asarray(probabilities, dtype=np.float32))
        write_predictions_csv(temps[1], probabilities, labels, files)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    commit_together([(temps[0], npy), (temps[1], csv_path)])
    return npy, csv_path
