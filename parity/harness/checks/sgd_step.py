"""Check 6: one SGD step in both frameworks on the same batch; the updated weights must agree.

Keras steps ``w <- w - lr * grad`` with ``lr`` in each weight's dtype (see
:func:`parity.harness.keras_runner.keras_sgd_stepper`), PyTorch with
``torch.optim.SGD``; both from the loss of the logits.
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

__all__ = ["SGD_STEP_TOL", "check_sgd_step"]

#: bound on the updated weights' scaled error after one step, float32 and float64.
SGD_STEP_TOL = {"float32": 1e-6, "float64": 1e-12}


def check_sgd_step(model: keras.Model, port: Port, setup: Setup, dtype: str = "float32") -> CheckResult:
    """One SGD step on training batch 0 in both frameworks: weights agree within ``SGD_STEP_TOL``."""
    tol = SGD_STEP_TOL[dtype]
    label = f"one SGD step {dtype}"
    km = keras_copy(model, dtype)
    net = torch_or_failure(port, km, "sgd_step", label, tol)
    if isinstance(net, CheckResult):
        return net
    x, y = setup.batch(0, dtype)
    keras_sgd_stepper(km, [s.handle for s in keras_slots(km, port.rows()).slots], setup.lr)(x, y)
    torch_sgd_stepper(net, setup.lr)(x, y)
    diff, where = weights_diff(km, net, port, dtype)
    return CheckResult(
        "sgd_step",
        label,
        diff <= tol,
        diff,
        tol,
        where,
        f"lr {setup.lr}, batch {setup.batch_size}; worst {where}",
        inf_reason="updated weights do not map back" if diff == math.inf else "",
    )
