"""Check 9: a third runtime. The network exported to ONNX, run by ONNX Runtime, against Keras and PyTorch.

The ONNX file is either given (``sepconv-parity --onnx FILE``) or exported from the port's PyTorch network
for the checked weights (:func:`parity.converter.files.deploy.export_onnx`). Both rows compare logits and
probabilities on the real evaluation images with the forward check's float32 bound
(:data:`~parity.harness.checks.forward.FORWARD_TOL`, scaled) and require the same argmax everywhere (a class
within the bound of the reference's top probability is a tie, as in the forward check). On a
broken port the exported file follows the broken PyTorch network, so "ONNX Runtime vs Keras" fails while
"ONNX Runtime vs PyTorch" passes: the row says which of the two differs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import torch

from parity.converter.files.deploy import argmax_disagreements, export_onnx
from parity.harness.checks.common import scaled_error, torch_or_failure
from parity.harness.checks.forward import FORWARD_TOL
from parity.harness.checks.result import CheckResult
from parity.harness.keras_runner import keras_logits
from parity.harness.port import Port
from parity.harness.torch_runner import fast_input, one_thread

__all__ = ["check_onnx", "onnx_runtime_available"]

Against = Literal["keras", "torch"]


def onnx_runtime_available() -> bool:
    """Whether the ``export`` extra (onnx, onnxscript, onnxruntime) is installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def _run_onnx(path: Path, x_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = np.ascontiguousarray(x_nhwc.astype(np.float32).transpose(0, 3, 1, 2))
    logits, probabilities = session.run(["logits", "probabilities"], {"images": images})
    return logits, probabilities


def check_onnx(
    model: keras.Model, port: Port, x: np.ndarray, against: Against, onnx_path: Path | None = None
) -> CheckResult:
    """ONNX Runtime's logits and probabilities of NHWC images ``x`` against ``against``'s (float32)."""
    tolerance = FORWARD_TOL["float32"]
    label = f"ONNX Runtime vs {'Keras' if against == 'keras' else 'PyTorch'}"
    net = torch_or_failure(port, model, "onnx", label, tolerance)
    if isinstance(net, CheckResult):
        return net
    net.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = onnx_path
        if path is None:
            path = Path(tmp) / "exported.onnx"
            export_onnx(net, path)
        o_logits, o_probs = _run_onnx(path, x)
    x = x.astype("float32")
    if against == "keras":
        r_logits = np.asarray(keras.ops.convert_to_numpy(keras_logits(model, x)))
        r_probs = np.asarray(keras.ops.convert_to_numpy(model(x)))
    else:
        with torch.no_grad(), one_thread():
            logits = net(fast_input(net, x))
        r_logits, r_probs = logits.numpy(), torch.softmax(logits, -1).numpy()
    e_logits, e_probs = scaled_error(r_logits, o_logits), scaled_error(r_probs, o_probs)
    differ = argmax_disagreements(r_probs, o_probs, tolerance)
    value = max(e_logits, e_probs)
    source = str(onnx_path) if onnx_path is not None else "exported from the port's PyTorch network"
    return CheckResult(
        "onnx",
        label,
        value <= tolerance and differ == 0,
        value,
        tolerance,
        None,
        f"{len(x)} images, ONNX file {source}: logits scaled {e_logits:.3g}, max|Δprob| {e_probs:.3g}, "
        f"argmax differs on {differ} (ties within {tolerance:.0e} aside)",
    )
