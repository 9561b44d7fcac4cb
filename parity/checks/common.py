"""Helpers shared by the checks: transferring through a port without raising, reading weights by row."""

from __future__ import annotations

import math

import keras
import numpy as np
from torch import nn

from parity.checks.result import CheckResult
from parity.errors import WeightMismatchError
from parity.keras_side import keras_slots
from parity.mapping import Row
from parity.port import Port

__all__ = ["failed_transfer", "keras_weights", "max_abs", "torch_or_failure"]


def torch_or_failure(
    port: Port, model: keras.Model, check: str, label: str, tolerance: float
) -> nn.Module | CheckResult:
    """``port.torch_from(model)``, or a failed result saying why the weights did not transfer."""
    try:
        return port.torch_from(model)
    except WeightMismatchError as error:
        return failed_transfer(check, label, tolerance, error)


def failed_transfer(check: str, label: str, tolerance: float, error: WeightMismatchError) -> CheckResult:
    """The result of a check that could not run because the weights do not transfer."""
    return CheckResult(
        check, label, False, math.inf, tolerance, None, f"weights do not transfer: {error.one_line()}"
    )


def keras_weights(model: keras.Model, rows: tuple[Row, ...]) -> list[np.ndarray]:
    """The Keras-layout array of every row, read from ``model`` (matched by structure)."""
    slots = keras_slots(model, rows).slots
    return [s.read() for s in slots if s.read is not None]


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b|`` in float64; ``inf`` if the shapes differ."""
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
