"""Check 5: gradients of the loss with respect to every mapped weight, compared in Keras' layout."""

from __future__ import annotations

import keras
import numpy as np

from parity.checks.common import torch_or_failure
from parity.checks.result import CheckResult
from parity.keras_run import keras_loss_and_grads
from parity.keras_side import keras_slots
from parity.port import Port, keras_dtype
from parity.torch_run import torch_loss_and_grads
from parity.torch_side import torch_slots

__all__ = ["GRADIENT_TOL", "check_gradients"]

#: max over weights of max|Δgrad| / max|Keras grad|, per dtype.
#: float64 proves the mapping of every gradient exact. float32 cannot meet 1e-4 because of
#: TensorFlow itself: its float32 ``selu`` computes ``exp(x) - 1`` where PyTorch uses ``expm1``
#: (relative error 1e-2 at x = -1e-6, 2e-4 at -1e-4; PyTorch: < 1e-7). At initialisation this
#: network's activations shrink from ~1 (conv1) to ~1e-3 (pool3), so Keras' float32 activations
#: drift 1e-4 from float64 by pool3 (PyTorch's stay within 6e-7) and its float32 gradients by up to
#: 2e-2 (5.5e-2 for one pointwise kernel). Hence 1e-1 for float32; broken ports give 1 or more.
GRADIENT_TOL = {"float32": 1e-1, "float64": 1e-10}


def check_gradients(
    model: keras.Model, port: Port, x: np.ndarray, y: np.ndarray, tolerance: float | None = None
) -> CheckResult:
    """Mean cross-entropy of the logits (both sides) on the batch ``x`` (NHWC), ``y``; each PyTorch gradient
    goes through its row's ``to_keras`` and is compared with Keras' gradient of the same weight."""
    dtype = keras_dtype(model)
    tolerance = GRADIENT_TOL[dtype] if tolerance is None else tolerance
    label = f"gradients {dtype}"
    net = torch_or_failure(port, model, "gradients", label, tolerance)
    if isinstance(net, CheckResult):
        return net
    rows = port.rows()
    variables = [s.handle for s in keras_slots(model, rows).slots]
    params = [s.handle for s in torch_slots(net, rows).slots]
    x = x.astype(dtype)
    k_loss, k_grads = keras_loss_and_grads(model, variables, x, y)
    t_loss, t_grads = torch_loss_and_grads(net, params, x, y)
    errors: list[float] = []
    for row, gk, gt in zip(rows, k_grads, t_grads, strict=False):
        gt_keras = row.transform.to_keras(gt)
        scale = max(float(np.max(np.abs(gk))), np.finfo(np.float64).tiny)
        errors.append(
            float(np.max(np.abs(gk.astype(np.float64) - gt_keras))) / scale
            if gt_keras.shape == gk.shape
            else np.inf
        )
    worst = int(np.argmax(errors))
    value = errors[worst]
    where = f"{rows[worst].layer}.{rows[worst].keras_weight}"
    return CheckResult(
        "gradients",
        label,
        value <= tolerance,
        value,
        tolerance,
        where,
        f"{len(rows)} weights; worst {where}; loss keras {k_loss:.6f} torch {t_loss:.6f}",
        {"error": errors},
    )
