"""The eight parity checks, each a function of a Keras model and a :class:`~parity.port.Port`.

:data:`CHECKS` runs each with one uniform signature ``(model, port, setup, dtype)``
(the test matrix and the report use it); the functions themselves take their
tolerances as arguments, with the defaults documented beside them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from parity.checks.activations import ACTIVATION_TOL, check_activations
from parity.checks.counts import check_param_counts
from parity.checks.forward import FLOAT32_FORWARD_TOL, FLOAT64_FORWARD_TOL, check_float64_exact, check_forward
from parity.checks.gradients import GRADIENT_TOL, check_gradients
from parity.checks.result import CheckResult, Setup
from parity.checks.roundtrip import check_round_trip
from parity.checks.training import SGD_STEP_TOL, TRAJECTORY_TOL, check_sgd_step, check_trajectory
from parity.port import Port
from parity.weights import as_dtype

__all__ = [
    "ACTIVATION_TOL",
    "CHECKS",
    "FLOAT32_FORWARD_TOL",
    "FLOAT64_FORWARD_TOL",
    "GRADIENT_TOL",
    "SGD_STEP_TOL",
    "TRAJECTORY_TOL",
    "CheckResult",
    "Setup",
    "check_activations",
    "check_float64_exact",
    "check_forward",
    "check_gradients",
    "check_param_counts",
    "check_round_trip",
    "check_sgd_step",
    "check_trajectory",
]

#: float64 convolutions are slow in TensorFlow on the CPU; 128 images are plenty to show exactness.
FLOAT64_IMAGES = 128

Check = Callable[[keras.Model, Port, Setup, str], CheckResult]


def _forward(model: keras.Model, port: Port, setup: Setup, dtype: str) -> CheckResult:
    tol = FLOAT32_FORWARD_TOL if dtype == "float32" else FLOAT64_FORWARD_TOL
    return check_forward(as_dtype(model, dtype), port, setup.x_eval, tol, f"forward {dtype}")


def _gradients(model: keras.Model, port: Port, setup: Setup, dtype: str) -> CheckResult:
    x, y = setup.batch(0, dtype)
    return check_gradients(as_dtype(model, dtype), port, x, y)


#: name -> check, in report order. ``dtype`` ("float32"/"float64") applies to the checks that have one.
CHECKS: dict[str, Check] = {
    "param_counts": lambda m, p, s, d: check_param_counts(m, p),
    "forward": _forward,
    "float64_exact": lambda m, p, s, d: check_float64_exact(m, p, s.x_eval[:FLOAT64_IMAGES]),
    "activations": lambda m, p, s, d: check_activations(as_dtype(m, d), p, s.x_eval),
    "gradients": _gradients,
    "sgd_step": check_sgd_step,
    "trajectory": check_trajectory,
    "round_trip": lambda m, p, s, d: check_round_trip(m, p),
}
