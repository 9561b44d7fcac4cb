"""Check 3: the whole network's output with both frameworks in float64, where only an exact mapping passes."""

from __future__ import annotations

import keras
import numpy as np

from parity.converter.convert import keras_copy
from parity.harness.checks.forward import FORWARD_TOL, check_forward
from parity.harness.checks.result import CheckResult
from parity.harness.port import Port

__all__ = ["check_float64_exact"]


def check_float64_exact(
    model: keras.Model, port: Port, x: np.ndarray, tolerance: float = FORWARD_TOL["float64"]
) -> CheckResult:
    """Both networks in float64 (a float64 copy of ``model``): :func:`check_forward` within ``tolerance``."""
    return check_forward(
        keras_copy(model, "float64"),
        port,
        x.astype(np.float64),
        tolerance,
        "forward float64 (exactness)",
        "float64_exact",
    )
