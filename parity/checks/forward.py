"""Checks 2 and 3: the whole network's output, float32 (close) and float64 (exact)."""

from __future__ import annotations

import keras
import numpy as np
import torch

from parity.checks.common import max_abs, torch_or_failure
from parity.checks.result import CheckResult
from parity.keras_run import keras_logits
from parity.port import Port
from parity.torch_run import fast_input, one_thread
from parity.weights import as_dtype

__all__ = ["FLOAT32_FORWARD_TOL", "FLOAT64_FORWARD_TOL", "check_float64_exact", "check_forward"]

#: max |Δ| of logits and of probabilities, float32.
FLOAT32_FORWARD_TOL = 1e-5
#: max |Δ| of logits and of probabilities, float64: far below float32's resolution, so only an exact
#: mapping passes (the float64 error of ~25 layers of sums is ~1e-14).
FLOAT64_FORWARD_TOL = 1e-12


def check_forward(
    model: keras.Model,
    port: Port,
    x: np.ndarray,
    tolerance: float = FLOAT32_FORWARD_TOL,
    label: str = "forward",
    check: str = "forward",
) -> CheckResult:
    """Logits ``(N, 10)`` and probabilities (Keras: the model's own softmax output; PyTorch: softmax of
    its logits) of NHWC images ``x``: max |Δ| ≤ ``tolerance`` and 100% argmax agreement."""
    net = torch_or_failure(port, model, check, label, tolerance)
    if isinstance(net, CheckResult):
        return net
    x = x.astype(str(model.weights[0].dtype))
    k_logits = np.asarray(keras.ops.convert_to_numpy(keras_logits(model, x)))
    k_probs = np.asarray(keras.ops.convert_to_numpy(model(x)))
    net.eval()
    with torch.no_grad(), one_thread():
        t_logits_t = net(fast_input(net, x))
        t_probs = torch.softmax(t_logits_t, dim=-1).numpy()
    t_logits = t_logits_t.numpy()
    d_logits, d_probs = max_abs(k_logits, t_logits), max_abs(k_probs, t_probs)
    agree = (
        float(np.mean(k_logits.argmax(1) == t_logits.argmax(1))) if k_logits.shape == t_logits.shape else 0.0
    )
    value = max(d_logits, d_probs)
    return CheckResult(
        check,
        label,
        value <= tolerance and agree == 1.0,
        value,
        tolerance,
        None,
        f"{len(x)} images: max|Δlogits| {d_logits:.3g}, max|Δprob| {d_probs:.3g}, argmax agreement {agree:.2%}",
    )


def check_float64_exact(
    model: keras.Model, port: Port, x: np.ndarray, tolerance: float = FLOAT64_FORWARD_TOL
) -> CheckResult:
    """Both networks in float64 (a float64 copy of ``model``): forward max |Δ| ≤ ``tolerance``."""
    return check_forward(
        as_dtype(model, "float64"),
        port,
        x.astype(np.float64),
        tolerance,
        "forward float64 (exactness)",
        "float64_exact",
    )
