"""Check 2: the whole network's output (logits, probabilities, argmax) on real test images."""

from __future__ import annotations

import keras
import numpy as np
import torch

from parity.converter.dtypes import model_dtype
from parity.converter.files.deploy import argmax_disagreements
from parity.harness.checks.common import scaled_error, torch_or_failure
from parity.harness.checks.result import CheckResult
from parity.harness.keras_runner import keras_logits
from parity.harness.port import Port
from parity.harness.torch_runner import fast_input, one_thread

__all__ = ["FORWARD_TOL", "check_forward"]

#: bound on :func:`~parity.harness.checks.common.scaled_error` of the logits and of the probabilities.
#: float64 is far below float32's resolution, so only an exact mapping passes (the float64 error of
#: ~25 layers of sums is ~1e-14).
FORWARD_TOL = {"float32": 1e-5, "float64": 1e-12}


def check_forward(
    model: keras.Model,
    port: Port,
    x: np.ndarray,
    tolerance: float | None = None,
    label: str | None = None,
    check: str = "forward",
) -> CheckResult:
    """Logits ``(N, 10)`` and probabilities (Keras: the model's own softmax output; PyTorch: softmax of
    its logits) of NHWC images ``x`` in ``model``'s dtype: scaled error ≤ ``tolerance`` (default
    :data:`FORWARD_TOL`) for both, and the same argmax on every image, where a class within ``tolerance``
    of Keras' top probability counts as a tie (either is the answer at that precision)."""
    dtype = model_dtype(model)
    tolerance = FORWARD_TOL[dtype] if tolerance is None else tolerance
    label = label or f"forward {dtype}"
    net = torch_or_failure(port, model, check, label, tolerance)
    if isinstance(net, CheckResult):
        return net
    x = x.astype(dtype)
    k_logits = np.asarray(keras.ops.convert_to_numpy(keras_logits(model, x)))
    k_probs = np.asarray(keras.ops.convert_to_numpy(model(x)))
    net.eval()
    with torch.no_grad(), one_thread():
        t_logits_t = net(fast_input(net, x))
        t_probs = torch.softmax(t_logits_t, dim=-1).numpy()
    t_logits = t_logits_t.numpy()
    e_logits, e_probs = scaled_error(k_logits, t_logits), scaled_error(k_probs, t_probs)
    same = k_logits.shape == t_logits.shape
    differ = argmax_disagreements(k_probs, t_probs, tolerance) if same else len(x)
    raw = float(np.max(np.abs(k_logits.astype(np.float64) - t_logits))) if same else float("inf")
    value = max(e_logits, e_probs)
    return CheckResult(
        check,
        label,
        value <= tolerance and differ == 0,
        value,
        tolerance,
        None,
        f"{len(x)} images: max|Δlogits| {raw:.3g} (max|logits| {float(np.max(np.abs(k_logits))):.3g}, "
        f"scaled {e_logits:.3g}), max|Δprob| {e_probs:.3g}, "
        f"argmax differs on {differ} (ties within {tolerance:.0e} aside)",
        inf_reason="" if same else f"logits shapes differ: {k_logits.shape} vs {t_logits.shape}",
    )
