"""The forward and ONNX checks count two classes within the tolerance of each other as a tie, not a
disagreement, and still fail a port whose argmax differs by more."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import torch
from torch import nn

from parity.converter import keras_copy
from parity.harness.checks import CHECKS
from parity.harness.data import Setup
from parity.harness.port import REFERENCE_PORT, Port

#: the top two classes of the Keras model below, ``SECOND``'s logit ``gap`` under ``FIRST``'s
FIRST, SECOND = 3, 5


@dataclasses.dataclass(frozen=True)
class _Nudged(Port):
    """The reference port with PyTorch's ``SECOND`` output bias raised by ``delta``."""

    delta: float = 0.0

    def torch_from(self, model: keras.Model) -> nn.Module:
        net = super().torch_from(model)
        with torch.no_grad():
            net.dense2.bias[SECOND] += self.delta
        return net


def _close_call(model: keras.Model, gap: float) -> tuple[keras.Model, Port]:
    """A copy of ``model`` whose logits are dense2's bias on every image, ``FIRST`` ahead of ``SECOND``
    by ``gap``, and a port that puts ``SECOND`` ahead by ``gap`` in PyTorch."""
    model = keras_copy(model, "float32")
    bias = np.zeros(10, np.float32)
    bias[FIRST], bias[SECOND] = 1.0, 1.0 - gap
    dense2 = model.get_layer("dense2")
    dense2.set_weights([np.zeros_like(dense2.get_weights()[0]), bias])
    return model, _Nudged(f"nudged {2 * gap:g}", "test port", delta=2 * gap)


def _argmaxes(model: keras.Model, port: Port, x: np.ndarray) -> tuple[set[int], set[int]]:
    net = port.torch_from(model).eval()
    with torch.no_grad():
        t = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).argmax(1)
    return set(np.asarray(model(x)).argmax(1).tolist()), set(t.tolist())


@pytest.mark.parametrize("check", ["forward", pytest.param("onnx_vs_keras", marks=pytest.mark.slow)])
def test_a_tie_within_the_tolerance_passes(check: str, random_model: keras.Model, small_setup: Setup) -> None:
    model, port = _close_call(random_model, 5e-7)  # probabilities ~1e-7 apart; the tolerance is 1e-5
    assert _argmaxes(model, port, small_setup.x_eval) == ({FIRST}, {SECOND})  # they do differ
    result = CHECKS[check](model, port, small_setup, "float32")
    assert result.passed and "argmax differs on 0 (ties within 1e-05 aside)" in result.detail, result.detail


@pytest.mark.parametrize("check", ["forward", pytest.param("onnx_vs_keras", marks=pytest.mark.slow)])
def test_an_argmax_beyond_the_tolerance_fails(
    check: str, random_model: keras.Model, small_setup: Setup
) -> None:
    model, port = _close_call(random_model, 1e-3)
    assert _argmaxes(model, port, small_setup.x_eval) == ({FIRST}, {SECOND})
    result = CHECKS[check](model, port, small_setup, "float32")
    n = len(small_setup.x_eval)
    assert not result.passed and f"argmax differs on {n} " in result.detail, result.detail


def test_the_reference_port_keeps_the_argmax(random_model: keras.Model, small_setup: Setup) -> None:
    model, _ = _close_call(random_model, 5e-7)
    assert _argmaxes(model, REFERENCE_PORT, small_setup.x_eval) == ({FIRST}, {FIRST})
    assert CHECKS["forward"](model, REFERENCE_PORT, small_setup, "float32").passed
