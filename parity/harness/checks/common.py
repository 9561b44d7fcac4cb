"""Helpers shared by the checks: the scale-aware error, transferring without raising, reading weights by row.

Scale-aware bounds. Every bound ``b`` on a difference is met when
``max|Δ| <= b * max(1, max|t|)``, ``t`` the Keras-side tensor compared (logits,
probabilities, an activation, a weight): absolute for tensors of
magnitude up to 1, relative beyond, so float32 round-off on the large logits
of a trained model is not mistaken for a wrong port. :func:`scaled_error` is
that normalised difference; the checks compare it with their tolerance.
Gradients are compared relative to the largest gradient of each weight, and
the trajectory's losses absolutely (see their modules).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from torch import nn

from parity.converter.errors import WeightMismatchError
from parity.converter.keras_weights import keras_slots
from parity.converter.mapping import Row
from parity.harness.checks.result import CheckResult
from parity.harness.port import Port

__all__ = ["failed_transfer", "keras_weights", "max_abs", "scaled_error", "torch_or_failure"]


def torch_or_failure(
    port: Port, model: keras.Model, check: str, label: str, tolerance: float
) -> nn.Module | CheckResult:
    """``port.torch_from(model)``, or a failed result saying why the weights did not transfer."""
    try:
        return port.torch_from(model)
    except WeightMismatchError as error:
        return failed_transfer(check, label, tolerance, error)


def failed_transfer(check: str, label: str, tolerance: float, error: WeightMismatchError) -> CheckResult:
    """The result of a check that could not run because the weights do not transfer (``layer``: the spec
    layer of the first mismatch that has one)."""
    layer = next((m.spec_layer for m in error.mismatches if m.spec_layer is not None), None)
    return CheckResult(
        check,
        label,
        False,
        math.inf,
        tolerance,
        layer,
        f"weights do not transfer: {error.one_line()}",
        inf_reason="weights do not transfer",
    )


def keras_weights(model: keras.Model, rows: tuple[Row, ...]) -> list[np.ndarray]:
    """The Keras-layout array of every row, read from ``model`` (matched by structure)."""
    slots = keras_slots(model, rows).slots
    return [s.read() for s in slots if s.read is not None]


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b|`` in float64; ``inf`` if the shapes differ."""
    if np.shape(a) != np.shape(b):
        return math.inf
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def scaled_error(reference: np.ndarray | float, other: np.ndarray | float) -> float:
    """``max|reference - other| / max(1, max|reference|)``; ``inf`` if the shapes differ."""
    d = max_abs(np.asarray(reference), np.asarray(other))
    scale = max(1.0, float(np.max(np.abs(reference)))) if np.size(reference) else 1.0
    return d / scale if math.isfinite(d) else d
