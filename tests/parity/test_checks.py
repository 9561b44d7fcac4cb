"""Every check passes on the reference port and fails on the broken ports it must catch."""

from __future__ import annotations

import math

import keras
import pytest

from parity.converter import keras_copy
from parity.harness.broken import BROKEN_PORTS
from parity.harness.checks import CHECKS, check_activations
from parity.harness.data import Setup
from parity.harness.port import REFERENCE_PORT
from parity.harness.states import fresh

MATRIX = [(port, check) for port, broken in BROKEN_PORTS.items() for check in broken.must_fail]
#: the fast tier: every broken port against the first check that must catch it; the rest in the slow tier
FAST_MATRIX = {(port, broken.must_fail[0]) for port, broken in BROKEN_PORTS.items()}
#: ONNX export takes seconds: the fast tier exports once (onnx_vs_keras)
SLOW_CHECKS = {"onnx_vs_torch"}


@pytest.mark.parametrize(
    "check", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CHECKS else c for c in CHECKS]
)
def test_reference_port_passes(check: str, random_model: keras.Model, setup: Setup) -> None:
    result = CHECKS[check](random_model, REFERENCE_PORT, setup, "float32")
    assert result.passed, result.detail


def test_trajectory_float64_is_exact(setup: Setup) -> None:
    result = CHECKS["trajectory"](
        fresh(0), REFERENCE_PORT, Setup(**{**setup.__dict__, "steps": 5}), "float64"
    )
    assert result.passed and result.value <= 1e-12, result.detail


#: checks whose failure needs more than a broken port, each shown by the test named
SHOWN_ELSEWHERE = {
    "onnx_vs_torch": "tests/parity/test_onnx_rows.py::test_onnx_vs_torch_fails_on_a_broken_port"
}


def test_every_check_is_shown_to_fail() -> None:
    assert {check for _, check in MATRIX} | set(SHOWN_ELSEWHERE) == set(CHECKS)


@pytest.mark.parametrize(
    ("port", "check"), [p if p in FAST_MATRIX else pytest.param(*p, marks=pytest.mark.slow) for p in MATRIX]
)
def test_broken_port_fails(port: str, check: str, random_model: keras.Model, small_setup: Setup) -> None:
    result = CHECKS[check](random_model, BROKEN_PORTS[port].port, small_setup, "float32")
    assert not result.passed, f"{check} passed the broken port {port}: {result.detail}"
    assert result.value < math.inf or result.inf_reason, f"{check} on {port}: inf without a reason"


@pytest.mark.parametrize(
    ("port", "layer"),
    [
        ("no_flatten_permutation", "dense1"),
        ("depthwise_axes_swapped", "sepconv1"),
        ("pointwise_reshape", "sepconv1"),
        ("valid_padding_conv1", "conv1"),
        ("elu_instead_of_selu", "conv1"),
    ],
)
def test_first_diverging_layer(port: str, layer: str, random_model: keras.Model, small_setup: Setup) -> None:
    result = check_activations(
        keras_copy(random_model, "float32"), BROKEN_PORTS[port].port, small_setup.x_eval
    )
    assert not result.passed and result.layer == layer
