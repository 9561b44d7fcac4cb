"""Both frameworks in one process, whichever the user imported first (TensorFlow before triton segfaults)."""

from __future__ import annotations

import subprocess
import sys

import pytest

WORK = """
import parity, sepconv_keras, torch
from parity import keras_to_torch, torch_to_keras
net = keras_to_torch(sepconv_keras.build_model(seed=1))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
loss = net(torch.zeros(2, 1, 28, 28)).sum()
loss.backward()
opt.step()
torch_to_keras(net)
print("ok")
"""


@pytest.mark.slow
@pytest.mark.parametrize("first", ["import tensorflow", "import torch; import torchvision"])
def test_import_order(first: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", first + "\n" + WORK], check=False, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), (run.returncode, run.stderr[-2000:])
