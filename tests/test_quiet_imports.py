"""Importing the libraries that load TensorFlow prints none of its start-up lines (oneDNN, CPU flags,
"Could not find cuda drivers", "failed call to cuInit"), unless the user asks for them."""

from __future__ import annotations

import sys

import pytest
from commands import run

pytestmark = pytest.mark.slow

PARITY_API = """
import parity
import sepconv_keras
net = parity.keras_to_torch(sepconv_keras.build_model(seed=0))
print(type(net).__name__)
"""
KERAS_API = """
import sepconv_keras
model = sepconv_keras.build_model(seed=0)
print(model.predict(__import__("numpy").zeros((1, 28, 28, 1), "float32"), verbose=0).shape)
"""


@pytest.mark.parametrize("code", [PARITY_API, KERAS_API], ids=["parity", "sepconv_keras"])
def test_library_use_prints_nothing_on_stderr(code: str) -> None:
    proc = run("python", "-c", code, python=[sys.executable], env={"TF_CPP_MIN_LOG_LEVEL": None})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() in {"SepConvNet", "(1, 10)"}
    assert proc.stderr == ""


def test_tf_cpp_min_log_level_0_keeps_tensorflow_start_up_lines() -> None:
    """The user's ``TF_CPP_MIN_LOG_LEVEL=0`` asks for TensorFlow's INFO records: they are not dropped."""
    proc = run("python", "-c", "import parity", python=[sys.executable], env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "] oneDNN custom operations are on" in proc.stderr
