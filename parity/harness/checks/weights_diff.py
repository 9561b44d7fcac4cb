"""The weights of a Keras model and of a PyTorch network compared in Keras' layout (after SGD steps)."""

from __future__ import annotations

import math

import keras
import numpy as np
from torch import nn

from parity.converter.errors import WeightMismatchError
from parity.harness.checks.common import keras_weights, scaled_error
from parity.harness.port import Port

__all__ = ["weights_diff"]


def weights_diff(
    keras_model: keras.Model, net: nn.Module, port: Port, dtype: str
) -> tuple[float, str | None]:
    """The largest :func:`~parity.harness.checks.common.scaled_error` over the weights (Keras' the reference)
    and the worst weight; ``inf`` and the first mismatch's layer if the port cannot map ``net`` back."""
    rows = port.rows()
    mine = keras_weights(keras_model, rows)
    try:
        theirs = keras_weights(port.keras_from(net, dtype), rows)
    except WeightMismatchError as error:
        return math.inf, next((m.spec_layer for m in error.mismatches if m.spec_layer), None)
    diffs = [scaled_error(a, b) for a, b in zip(mine, theirs, strict=False)]
    worst = int(np.argmax(diffs))
    return diffs[worst], f"{rows[worst].layer}.{rows[worst].keras_weight}"
