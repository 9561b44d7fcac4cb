"""Checks 6 and 7: one SGD step, and a K-step training trajectory, on identical batches.

Keras steps ``w <- w - lr * grad`` with ``lr`` in each weight's dtype (see
:func:`parity.keras_run.keras_sgd_stepper`), PyTorch with ``torch.optim.SGD``;
both from the loss of the logits. Weights are compared in Keras' layout, the
PyTorch ones brought there by the port's ``to_keras``.

Float32 trajectory bound. From identical weights the two frameworks' float32
losses first differ by roundoff (~1e-7), and on the reference network's initial
plateau SGD amplifies that. Measured on real Fashion-MNIST (seed 0, 300 steps,
batch 32, lr 0.01): |Δloss| 7e-7 after 1 step, 2e-6 after 2, 3e-5 after 10,
max 2.3e-3 over 300 steps, final max |Δweight| 6e-3 (sepconv5's bias); the
prototype measured max 1.4e-3. The check requires |Δloss| ≤ 1e-5 at step 0
(before any update: roundoff only), max |Δloss| ≤ 2e-2 over the run and final
max |Δweight| ≤ 5e-2, about ten times the measured maxima; a wrong port is off
by 1e-2 or more at step 0 already. In float64 everything must agree within
1e-12 (measured: 8.9e-16 loss, 6e-17 weights).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from torch import nn

from parity.checks.common import keras_weights, max_abs, torch_or_failure
from parity.checks.result import CheckResult, Setup
from parity.errors import WeightMismatchError
from parity.keras_run import keras_sgd_stepper
from parity.keras_side import keras_slots
from parity.port import Port
from parity.torch_run import torch_sgd_stepper
from parity.weights import as_dtype

__all__ = ["SGD_STEP_TOL", "TRAJECTORY_TOL", "check_sgd_step", "check_trajectory"]

#: max |Δweight| after one step, float32 and float64.
SGD_STEP_TOL = {"float32": 1e-6, "float64": 1e-12}
#: (|Δloss| at step 0, max |Δloss| over the run, max |Δweight| at the end), per dtype.
TRAJECTORY_TOL = {"float32": (1e-5, 2e-2, 5e-2), "float64": (1e-12, 1e-12, 1e-12)}


def _weights_diff(
    keras_model: keras.Model, net: nn.Module, port: Port, dtype: str
) -> tuple[float, str | None]:
    """max |Δweight| in Keras layout and the worst weight; ``inf`` if the port cannot map ``net`` back."""
    rows = port.rows()
    mine = keras_weights(keras_model, rows)
    try:
        theirs = keras_weights(port.keras_from(net, dtype), rows)
    except WeightMismatchError as error:
        return math.inf, error.problems[0].split(" -> ")[0]
    diffs = [max_abs(a, b) for a, b in zip(mine, theirs, strict=False)]
    worst = int(np.argmax(diffs))
    return diffs[worst], f"{rows[worst].layer}.{rows[worst].keras_weight}"


def check_sgd_step(model: keras.Model, port: Port, setup: Setup, dtype: str = "float32") -> CheckResult:
    """One SGD step on training batch 0 in both frameworks: weights agree within ``SGD_STEP_TOL``."""
    tol = SGD_STEP_TOL[dtype]
    label = f"one SGD step {dtype}"
    km = as_dtype(model, dtype)
    net = torch_or_failure(port, km, "sgd_step", label, tol)
    if isinstance(net, CheckResult):
        return net
    x, y = setup.batch(0, dtype)
    keras_sgd_stepper(km, [s.handle for s in keras_slots(km, port.rows()).slots], setup.lr)(x, y)
    torch_sgd_stepper(net, setup.lr)(x, y)
    diff, where = _weights_diff(km, net, port, dtype)
    return CheckResult(
        "sgd_step",
        label,
        diff <= tol,
        diff,
        tol,
        where,
        f"lr {setup.lr}, batch {setup.batch_size}; worst {where}",
    )


def check_trajectory(model: keras.Model, port: Port, setup: Setup, dtype: str = "float32") -> CheckResult:
    """``setup.steps`` SGD steps on the same batches in the same order; losses per step and final weights
    compared against ``TRAJECTORY_TOL[dtype]``. ``value`` is max |Δloss|; the curves go in ``series``."""
    tol0, tol_max, tol_w = TRAJECTORY_TOL[dtype]
    label = f"trajectory {dtype}, {setup.steps} steps"
    km = as_dtype(model, dtype)
    net = torch_or_failure(port, km, "trajectory", label, tol_max)
    if isinstance(net, CheckResult):
        return net
    k_step = keras_sgd_stepper(km, [s.handle for s in keras_slots(km, port.rows()).slots], setup.lr)
    t_step = torch_sgd_stepper(net, setup.lr)
    k_losses: list[float] = []
    t_losses: list[float] = []
    for step in range(setup.steps):
        x, y = setup.batch(step, dtype)
        k_losses.append(k_step(x, y))
        t_losses.append(t_step(x, y))
    diffs = [abs(a - b) for a, b in zip(k_losses, t_losses, strict=False)]
    d0, dmax = (diffs[0], max(diffs)) if diffs else (0.0, 0.0)
    dmax = dmax if all(math.isfinite(v) for v in k_losses + t_losses) else math.inf
    dw, where = _weights_diff(km, net, port, dtype)
    passed = d0 <= tol0 and dmax <= tol_max and dw <= tol_w
    first = next((i for i, d in enumerate(diffs) if d > tol0), None)
    return CheckResult(
        "trajectory",
        label,
        passed,
        dmax,
        tol_max,
        where,
        f"|Δloss| step 0 {d0:.3g} (≤ {tol0:g}), max {dmax:.3g} (≤ {tol_max:g}), final max|Δw| {dw:.3g} "
        f"(≤ {tol_w:g}, worst {where}); first step over {tol0:g}: {first}",
        {"loss_keras": k_losses, "loss_torch": t_losses, "abs_diff": diffs},
    )
