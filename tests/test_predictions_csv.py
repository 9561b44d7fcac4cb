"""``predictions.csv``: class names, the predicted class and its probability, refusals named."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sepconv.classes import CLASS_NAMES
from sepconv.predictions import write_predictions_csv


def test_rows(tmp_path: Path) -> None:
    probs = np.full((2, 10), 0.05, dtype=np.float32)
    probs[0, 9], probs[1, 1] = 0.55, 0.55
    path = write_predictions_csv(tmp_path / "p.csv", probs, np.array([9, 3]))
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["index", "label", "predicted", "probability", *CLASS_NAMES]
    assert rows[1][:4] == ["0", "Ankle boot", "Ankle boot", "0.550000"]
    assert rows[2][:4] == ["1", "Dress", "Trouser", "0.550000"]
    unlabelled = list(csv.reader(write_predictions_csv(tmp_path / "q.csv", probs).open()))
    assert unlabelled[1][1] == ""


def test_bad_shapes_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be \(N, 10\), received shape \(2, 3\)"):
        write_predictions_csv(tmp_path / "p.csv", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="1 labels for 2 predictions"):
        write_predictions_csv(tmp_path / "p.csv", np.zeros((2, 10)), np.array([1]))
