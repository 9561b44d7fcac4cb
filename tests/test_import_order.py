"""Both frameworks in one process, whatever was imported first (TensorFlow >= 2.20 + triton segfault).

Each case runs in a fresh interpreter; a crash shows as a negative return code (SIGSEGV).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

TORCH_STEP = """
import torch
from sepconv_torch import SepConvLitModule, build_model
net = build_model(seed=0)
opt = torch.optim.SGD(net.parameters(), lr=0.01)
net(torch.zeros(2, 1, 28, 28)).sum().backward()
opt.step()
SepConvLitModule(net=net).configure_optimizers()
"""
KERAS_STEP = """
import numpy as np
from sepconv_keras import build_model as build_keras
m = build_keras(seed=0)
m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
m.train_on_batch(np.zeros((2, 28, 28, 1), np.float32), np.zeros(2, np.int64))
"""

CASES = {
    "tensorflow-then-sepconv_torch": "import tensorflow\n" + TORCH_STEP + KERAS_STEP,
    "torch-then-sepconv_keras": "import torch\n" + KERAS_STEP + TORCH_STEP,
    "sepconv_keras-then-torchvision": "import sepconv_keras\nimport torchvision\n" + TORCH_STEP,
    "sepconv_torch-then-tensorflow-then-optimizer": "import sepconv_torch\nimport tensorflow\n" + TORCH_STEP,
    "keras-then-lightning-cli": "import keras\nfrom sepconv_torch.cli import make_cli\n" + TORCH_STEP,
}


@pytest.mark.parametrize("code", list(CASES.values()), ids=list(CASES))
def test_import_order(code: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nprint('ok')"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip().endswith("ok")
