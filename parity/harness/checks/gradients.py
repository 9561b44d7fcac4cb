"""Check 5: gradients of the loss with respect to every mapped weight, compared in Keras' layout.

float64: Keras' and PyTorch's gradients must agree within 1e-10 (relative to the
largest Keras gradient of each weight); that proves the mapping of every gradient
exact. float32: each framework's float32 gradients are compared with *its own*
float64 gradients of the same weights (so the row shows which side is off and by
how much), and those float64 gradients must agree across frameworks; the float32
difference *across* frameworks is reported as information only.

Why float32 gets 1e-1: TensorFlow's float32 ``selu`` computes ``exp(x) - 1``
(relative error 1e-2 at x = -1e-6, 2e-4 at -1e-4) where our PyTorch SELU rounds a
float64 ``expm1`` once (< 6e-8; ``sepconv_torch.selu``). At initialisation this
network's activations shrink from ~1 (conv1) to ~1e-3 (pool3), so Keras' float32
gradients are off from its own float64 ones by up to 5.5e-2 (one pointwise
kernel); PyTorch's stay far closer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from parity.converter.convert import keras_copy
from parity.converter.dtypes import model_dtype
from parity.converter.keras_weights import keras_slots
from parity.converter.mapping import Row
from parity.converter.torch_weights import torch_slots
from parity.harness.checks.common import torch_or_failure
from parity.harness.checks.result import CheckResult
from parity.harness.keras_runner import keras_loss_and_grads
from parity.harness.port import Port
from parity.harness.torch_runner import torch_loss_and_grads

__all__ = ["GRADIENT_TOL", "check_gradients"]

#: max over weights of max|Δgrad| / max|reference grad|: float64 across frameworks; float32 against
#: each framework's own float64.
GRADIENT_TOL = {"float32": 1e-1, "float64": 1e-10}


def _relative(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> list[float]:
    """Per weight ``max|Δ| / max|reference|`` (``inf`` where the shapes differ)."""
    errors = []
    for a, b in zip(reference, other, strict=True):
        scale = max(float(np.max(np.abs(a))), np.finfo(np.float64).tiny)
        same = a.shape == b.shape
        errors.append(float(np.max(np.abs(a.astype(np.float64) - b))) / scale if same else math.inf)
    return errors


def _grads(
    model: keras.Model, port: Port, x: np.ndarray, y: np.ndarray, label: str, tol: float
) -> tuple[float, list[np.ndarray], float, list[np.ndarray]] | CheckResult:
    """Keras' loss and gradients, PyTorch's loss and gradients brought to Keras' layout."""
    net = torch_or_failure(port, model, "gradients", label, tol)
    if isinstance(net, CheckResult):
        return net
    rows = port.rows()
    variables = [s.handle for s in keras_slots(model, rows).slots]
    params = [s.handle for s in torch_slots(net, rows).slots]
    x = x.astype(model_dtype(model))
    k_loss, k_grads = keras_loss_and_grads(model, variables, x, y)
    t_loss, t_grads = torch_loss_and_grads(net, params, x, y)
    return k_loss, k_grads, t_loss, [row.transform.to_keras(g) for row, g in zip(rows, t_grads, strict=True)]


def _worst(rows: Sequence[Row], errors: list[float]) -> tuple[float, str]:
    i = int(np.argmax(errors))
    return errors[i], f"{rows[i].layer}.{rows[i].keras_weight}"


def _float64(model: keras.Model, port: Port, x: np.ndarray, y: np.ndarray, tol: float) -> CheckResult:
    got = _grads(model, port, x, y, "gradients float64", tol)
    if isinstance(got, CheckResult):
        return got
    k_loss, k_grads, t_loss, t_grads = got
    errors = _relative(k_grads, t_grads)
    value, where = _worst(port.rows(), errors)
    return CheckResult(
        "gradients",
        "gradients float64",
        value <= tol,
        value,
        tol,
        where,
        f"{len(errors)} weights; worst {where}; loss keras {k_loss:.6f} torch {t_loss:.6f}",
        {"error": errors},
        inf_reason=f"{where} gradient shapes differ" if value == math.inf else "",
    )


def _float32(model: keras.Model, port: Port, x: np.ndarray, y: np.ndarray, tol: float) -> CheckResult:
    label = "gradients float32, each vs its own float64"
    got32 = _grads(model, port, x, y, label, tol)
    if isinstance(got32, CheckResult):
        return got32
    got64 = _grads(keras_copy(model, "float64"), port, x, y, label, tol)
    if isinstance(got64, CheckResult):
        return got64
    rows = port.rows()
    _, k32, _, t32 = got32
    _, k64, _, t64 = got64
    keras_own, torch_own = _relative(k64, k32), _relative(t64, t32)
    cross64, cross32 = _relative(k64, t64), _relative(k32, t32)
    (ek, wk), (et, wt) = _worst(rows, keras_own), _worst(rows, torch_own)
    (e64, w64), (e32, _) = _worst(rows, cross64), _worst(rows, cross32)
    exact = e64 <= GRADIENT_TOL["float64"]
    value = max(ek, et) if exact else math.inf
    detail = (
        f"keras f32 vs f64 {ek:.3g} (worst {wk}), torch f32 vs f64 {et:.3g} (worst {wt}); "
        f"float64 keras vs torch {e64:.3g} (≤ {GRADIENT_TOL['float64']:g}); "
        f"float32 keras vs torch {e32:.3g} (informational)"
    )
    return CheckResult(
        "gradients",
        label,
        exact and value <= tol,
        value,
        tol,
        (wk if ek >= et else wt) if exact else w64,
        detail if exact else f"float64 gradients differ across frameworks (worst {w64}); {detail}",
        {
            "error_keras": keras_own,
            "error_torch": torch_own,
            "error_float64": cross64,
            "error_float32": cross32,
        },
        # float32 is judged against each framework's own float64 gradients, which must agree first
        inf_reason="" if exact else "float64 gradients disagree",
    )


def check_gradients(
    model: keras.Model, port: Port, x: np.ndarray, y: np.ndarray, tolerance: float | None = None
) -> CheckResult:
    """Mean cross-entropy of the logits (both sides) on the batch ``x`` (NHWC), ``y``, in ``model``'s dtype;
    each PyTorch gradient goes through its row's ``to_keras``. See the module for what each dtype compares."""
    dtype = model_dtype(model)
    tol = GRADIENT_TOL[dtype] if tolerance is None else tolerance
    return _float64(model, port, x, y, tol) if dtype == "float64" else _float32(model, port, x, y, tol)
