"""Why float32 gradients cannot agree to 1e-4: TensorFlow's selu formula, and the drift it causes.

Prints (1) the relative error of float32 ``selu`` against float64 for small negative
inputs: TensorFlow's, the PyTorch port's default (TensorFlow's formula) and its
``precise_selu``; and (2) each layer's float32 activations against the float64 Keras
model with the same weights, for Keras and for both PyTorch variants, on 32 real
training images at the reference initialisation.
Usage: python scripts/float32_drift.py
"""

from __future__ import annotations

import numpy as np

import parity
import sepconv_keras
from parity.harness.keras_runner import keras_layer_outputs
from parity.harness.torch_runner import one_thread, torch_layer_outputs
from sepconv.compat import import_tensorflow
from sepconv.data import load_splits
from sepconv.spec import REFERENCE

tf = import_tensorflow()
import torch

from sepconv_torch import build_model
from sepconv_torch.selu import SELU


def main() -> None:
    print("selu(x), float32 relative error against float64")
    for x in (-1e-6, -1e-5, -1e-4, -1e-3, -1e-2):
        exact = float(tf.nn.selu(tf.constant([x], tf.float64))[0])
        tf32 = float(tf.nn.selu(tf.constant([x], tf.float32))[0])
        pt32 = float(SELU()(torch.tensor([x], dtype=torch.float32))[0])
        precise = float(SELU(precise=True)(torch.tensor([x], dtype=torch.float32))[0])
        print(
            f"  x={x:8.0e}  tensorflow {abs(tf32 - exact) / abs(exact):.1e}"
            f"  pytorch {abs(pt32 - exact) / abs(exact):.1e}"
            f"  pytorch precise_selu {abs(precise - exact) / abs(exact):.1e}"
        )

    splits = load_splits()
    x, names = splits.x_train[:32], [layer.name for layer in REFERENCE]
    k32 = sepconv_keras.build_model(seed=0)
    k64 = sepconv_keras.build_model(seed=0, dtype="float64")
    for v64, v32 in zip(k64.weights, k32.weights, strict=False):
        v64.assign(np.asarray(v32).astype(np.float64))
    exact = keras_layer_outputs(k64, x.astype(np.float64), names)
    keras32 = keras_layer_outputs(k32, x, names)
    with one_thread():
        torch32 = torch_layer_outputs(parity.keras_to_torch(k32), x)
        precise32 = torch_layer_outputs(parity.keras_to_torch(k32, build_model(precise_selu=True)), x)
    print("layer output, float32 max|Δ| / max|a| against float64")
    for name in names:
        scale = np.abs(exact[name]).max()
        errors = [np.abs(out[name] - exact[name]).max() / scale for out in (keras32, torch32, precise32)]
        print(
            f"  {name:9s} max|a| {scale:.1e}  keras {errors[0]:.1e}  pytorch {errors[1]:.1e}"
            f"  pytorch precise_selu {errors[2]:.1e}"
        )


if __name__ == "__main__":
    main()
