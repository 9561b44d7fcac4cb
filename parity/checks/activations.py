"""Check 4: every layer's output, layouts accounted for, and the first layer that diverges."""

from __future__ import annotations

import math

import keras
import numpy as np

from parity.checks.common import max_abs, torch_or_failure
from parity.checks.result import CheckResult
from parity.keras_run import keras_layer_outputs
from parity.port import Port, keras_dtype
from parity.torch_run import torch_layer_outputs
from sepconv.spec import REFERENCE

__all__ = ["ACTIVATION_TOL", "check_activations", "layer_error"]

#: Per-layer error max|Δ| / max(1, max|Keras activation|): float32, and float64.
ACTIVATION_TOL = {"float32": 1e-5, "float64": 1e-12}


def layer_error(keras_out: np.ndarray, torch_out: np.ndarray) -> float:
    """``max|Δ| / max(1, max|keras_out|)``: absolute for small activations, relative for large; ``inf``
    if the shapes differ."""
    d = max_abs(keras_out, torch_out)
    return d / max(1.0, float(np.max(np.abs(keras_out)))) if math.isfinite(d) else d


def check_activations(
    model: keras.Model, port: Port, x: np.ndarray, tolerance: float | None = None
) -> CheckResult:
    """Each layer's output (Keras NHWC and ``(h, w, c)`` flatten order; PyTorch converted to it; the last
    layer's logits) must have :func:`layer_error` ≤ ``tolerance``; reports the first layer that does not."""
    dtype = keras_dtype(model)
    tol = ACTIVATION_TOL[dtype] if tolerance is None else tolerance
    label = f"per-layer activations {dtype}"
    net = torch_or_failure(port, model, "activations", label, tol)
    if isinstance(net, CheckResult):
        return net
    x = x.astype(dtype)
    names = [layer.name for layer in REFERENCE]
    k = keras_layer_outputs(model, x, names)
    t = torch_layer_outputs(net, x)
    errors = {name: layer_error(k[name], t[name]) if name in t else math.inf for name in names}
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
    )
