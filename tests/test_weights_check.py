"""sepconv.weights: the shared refusal of non-float and non-finite weights."""

from __future__ import annotations

import numpy as np
import pytest

from sepconv.errors import InputError
from sepconv.weights import check_weights, weight_problems


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.ones((2, 2), np.float32), []),
        (np.ones((2, 2), np.float64), []),
        (np.ones((2, 2), np.int32), ["w: dtype int32, expected floating point"]),
        (np.ones(3, bool), ["w: dtype bool, expected floating point"]),
        (np.array([1.0, np.nan, np.inf], np.float32), ["w: NaN or Inf (2 of 3)"]),
        (np.array([-np.inf], np.float16), ["w: NaN or Inf (1 of 1)"]),
    ],
)
def test_weight_problems(value: np.ndarray, expected: list[str]) -> None:
    assert weight_problems({"w": value}) == expected


def test_check_weights_names_file_and_first_three() -> None:
    arrays = {f"w{i}": np.full(2, np.nan, np.float32) for i in range(5)}
    with pytest.raises(
        InputError,
        match=r"^m\.ckpt: unusable weights: w0: NaN.*w2: NaN or Inf \(2 of 2\) and 2 "
        r"more; nothing was done$",
    ):
        check_weights(arrays, "m.ckpt", "nothing was done")
    check_weights({"w": np.zeros(3, np.float32)}, "ok.ckpt")  # no error
