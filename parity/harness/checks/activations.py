"""Check 4: every layer's output, layouts accounted for, and the first layer that diverges."""

from __future__ import annotations

import math

import keras
import numpy as np

from parity.converter.dtypes import model_dtype
from parity.harness.checks.common import scaled_error, torch_or_failure
from parity.harness.checks.result import CheckResult
from parity.harness.keras_runner import keras_layer_outputs
from parity.harness.port import Port
from parity.harness.torch_runner import torch_layer_outputs
from sepconv.spec import REFERENCE

__all__ = ["ACTIVATION_TOL", "check_activations"]

#: bound on each layer's :func:`~parity.harness.checks.common.scaled_error`: float32, and float64.
ACTIVATION_TOL = {"float32": 1e-5, "float64": 1e-12}


def check_activations(
    model: keras.Model, port: Port, x: np.ndarray, tolerance: float | None = None
) -> CheckResult:
    """Each layer's output (Keras NHWC and ``(h, w, c)`` flatten order; PyTorch converted to it; the last
    layer's logits) must have :func:`~parity.harness.checks.common.scaled_error` ≤ ``tolerance``; reports
    the first layer that does not."""
    dtype = model_dtype(model)
    tol = ACTIVATION_TOL[dtype] if tolerance is None else tolerance
    label = f"per-layer activations {dtype}"
    net = torch_or_failure(port, model, "activations", label, tol)
    if isinstance(net, CheckResult):
        return net
    x = x.astype(dtype)
    names = [layer.name for layer in REFERENCE]
    k = keras_layer_outputs(model, x, names)
    t = torch_layer_outputs(net, x)
    errors = {name: scaled_error(k[name], t[name]) if name in t else math.inf for name in names}
    first = next((name for name in names if not errors[name] <= tol), None)
    worst = max(errors.values())
    detail = (
        f"first diverging layer {first}: error {errors[first]:.3g}"
        + (
            f" (shapes {k[first].shape} vs {t[first].shape})"
            if first in t and k[first].shape != t[first].shape
            else ""
        )
        if first
        else f"all {len(names)} layers within {tol:g}"
    )
    return CheckResult(
        "activations",
        label,
        first is None,
        worst,
        tol,
        first,
        detail,
        {"layers": list(range(len(names))), "error": list(errors.values())},
        inf_reason=next(
            (
                f"{name} {'missing in PyTorch' if name not in t else 'shapes differ'}"
                for name in names
                if errors[name] == math.inf
            ),
            "",
        ),
    )
