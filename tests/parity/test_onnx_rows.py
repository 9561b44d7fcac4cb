"""The third runtime: ONNX Runtime agrees with Keras and PyTorch, and its rows say which side differs."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from parity.converter.files.deploy import export_onnx
from parity.harness.broken import BROKEN_PORTS
from parity.harness.checks import CHECKS
from parity.harness.data import Setup
from parity.harness.port import REFERENCE_PORT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference_onnx(random_model: keras.Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "reference.onnx"
    export_onnx(REFERENCE_PORT.torch_from(random_model), path)
    return path


def test_a_given_file_agrees_with_both(
    random_model: keras.Model, small_setup: Setup, reference_onnx: Path
) -> None:
    given = Setup(**{**small_setup.__dict__, "onnx": reference_onnx})
    for check in ("onnx_vs_keras", "onnx_vs_torch"):
        result = CHECKS[check](random_model, REFERENCE_PORT, given, "float32")
        assert result.passed and str(reference_onnx) in result.detail, result.detail


def test_onnx_vs_torch_fails_on_a_broken_port(
    random_model: keras.Model, small_setup: Setup, reference_onnx: Path
) -> None:
    """A correct ONNX file against a broken PyTorch port: the PyTorch row fails, the Keras row passes."""
    given = Setup(**{**small_setup.__dict__, "onnx": reference_onnx})
    port = BROKEN_PORTS["no_flatten_permutation"].port
    assert not CHECKS["onnx_vs_torch"](random_model, port, given, "float32").passed
    assert CHECKS["onnx_vs_keras"](random_model, port, given, "float32").passed


def test_exported_from_a_broken_port_follows_pytorch(random_model: keras.Model, small_setup: Setup) -> None:
    port = BROKEN_PORTS["no_flatten_permutation"].port
    assert CHECKS["onnx_vs_torch"](random_model, port, small_setup, "float32").passed
    assert not CHECKS["onnx_vs_keras"](random_model, port, small_setup, "float32").passed
