"""The parity checks behind one registry: :data:`CHECKS` maps a name to ``check(model, port, setup, dtype)``.

One module per check (``counts``, ``forward``, ``float64_exact``, ``activations``,
``gradients``, ``sgd_step``, ``trajectory``, ``roundtrip``, ``onnx_runtime``); each function takes a
Keras model and a :class:`~parity.harness.port.Port` and documents its tolerance.
The test matrix and the suite (:mod:`parity.harness.suite`) both run checks through
:data:`CHECKS` only.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from parity.converter.convert import keras_copy
from parity.harness.checks.activations import ACTIVATION_TOL, check_activations
from parity.harness.checks.counts import check_param_counts
from parity.harness.checks.float64_exact import check_float64_exact
from parity.harness.checks.forward import FORWARD_TOL, check_forward
from parity.harness.checks.gradients import GRADIENT_TOL, check_gradients
from parity.harness.checks.onnx_runtime import check_onnx, onnx_runtime_available
from parity.harness.checks.result import CheckResult
from parity.harness.checks.roundtrip import check_round_trip
from parity.harness.checks.sgd_step import SGD_STEP_TOL, check_sgd_step
from parity.harness.checks.trajectory import TRAJECTORY_TOL, check_trajectory
from parity.harness.data import Setup
from parity.harness.port import Port

__all__ = [
    "ACTIVATION_TOL",
    "CHECKS",
    "FORWARD_TOL",
    "GRADIENT_TOL",
    "SGD_STEP_TOL",
    "TRAJECTORY_TOL",
    "Check",
    "CheckResult",
    "check_activations",
    "check_float64_exact",
    "check_forward",
    "check_gradients",
    "check_onnx",
    "check_param_counts",
    "check_round_trip",
    "check_sgd_step",
    "check_trajectory",
    "onnx_runtime_available",
]

#: float64 convolutions are slow in TensorFlow on the CPU; 128 images are plenty to show exactness.
FLOAT64_IMAGES = 128

Check = Callable[[keras.Model, Port, Setup, str], CheckResult]


def _gradients(model: keras.Model, port: Port, setup: Setup, dtype: str) -> CheckResult:
    x, y = setup.batch(0, dtype)
    return check_gradients(keras_copy(model, dtype), port, x, y)


#: name -> check, in report order. ``dtype`` ("float32"/"float64") applies to the checks that have one.
CHECKS: dict[str, Check] = {
    "param_counts": lambda m, p, s, d: check_param_counts(m, p),
    "forward": lambda m, p, s, d: check_forward(keras_copy(m, d), p, s.x_eval),
    "float64_exact": lambda m, p, s, d: check_float64_exact(m, p, s.x_eval[:FLOAT64_IMAGES]),
    "activations": lambda m, p, s, d: check_activations(keras_copy(m, d), p, s.x_eval),
    "gradients": _gradients,
    "sgd_step": check_sgd_step,
    "trajectory": check_trajectory,
    "round_trip": lambda m, p, s, d: check_round_trip(m, p),
    "onnx_vs_keras": lambda m, p, s, d: check_onnx(m, p, s.x_eval, "keras", s.onnx),
    "onnx_vs_torch": lambda m, p, s, d: check_onnx(m, p, s.x_eval, "torch", s.onnx),
}
