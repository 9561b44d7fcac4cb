"""Check 7: a K-step SGD training trajectory in both frameworks, on identical batches in the same order.

Both frameworks step as in :mod:`parity.harness.checks.sgd_step`; losses are
compared at every step and the weights at the end, in Keras' layout.

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

from parity.converter.convert import keras_copy
from parity.converter.keras_weights import keras_slots
from parity.harness.checks.common import torch_or_failure
from parity.harness.checks.result import CheckResult
from parity.harness.checks.weights_diff import weights_diff
from parity.harness.data import Setup
from parity.harness.keras_runner import keras_sgd_stepper
from parity.harness.port import Port
from parity.harness.torch_runner import torch_sgd_stepper

__all__ = ["TRAJECTORY_TOL", "check_trajectory"]

#: (|Δloss| at step 0, max |Δloss| over the run, max |Δweight| at the end), per dtype. The weights' bound is
#: on their scaled error (``max(1, max|w|)`` the scale). The loss bounds stay absolute: a 10-class mean
#: cross-entropy has a fixed scale (ln 10 = 2.3 at chance, falling as it learns), and dividing by it would
#: only loosen step 0 on the initial plateau, where a wrong port differs least (measured: a spatially
#: transposed depthwise kernel is off by 1.4e-5 at step 0 from fresh weights).
TRAJECTORY_TOL = {"float32": (1e-5, 2e-2, 5e-2), "float64": (1e-12, 1e-12, 1e-12)}


def check_trajectory(model: keras.Model, port: Port, setup: Setup, dtype: str = "float32") -> CheckResult:
    """``setup.steps`` SGD steps on the same batches in the same order; losses per step and final weights
    compared against ``TRAJECTORY_TOL[dtype]``. ``value`` is max |Δloss|; the curves go in ``series``."""
    tol0, tol_max, tol_w = TRAJECTORY_TOL[dtype]
    label = f"trajectory {dtype}, {setup.steps} steps"
    km = keras_copy(model, dtype)
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
    dw, where = weights_diff(km, net, port, dtype)
    passed = d0 <= tol0 and dmax <= tol_max and dw <= tol_w
    first = next((i for i, d in enumerate(diffs) if d > tol0), None)
    return CheckResult(
        "trajectory",
        label,
        passed,
        dmax,
        tol_max,
        where,
        f"|Δloss| step 0 {d0:.3g} (≤ {tol0:g}), max {dmax:.3g} (≤ {tol_max:g}), "
        f"final scaled max|Δw| {dw:.3g} "
        f"(≤ {tol_w:g}, worst {where}); first step over {tol0:g}: {first}",
        {"loss_keras": k_losses, "loss_torch": t_losses, "abs_diff": diffs},
        inf_reason="a loss is NaN or Inf" if dmax == math.inf else "",
    )
