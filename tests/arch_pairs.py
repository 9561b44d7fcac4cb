"""Helpers for the description tests: one description built in Keras and PyTorch (float64), same weights.

Keras gets random weights (positive moving variances), then :func:`sepconv_torch.arch.weights.keras_to_torch`
copies them; the comparisons read every layer's output on both sides (Keras NHWC, PyTorch NCHW).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sepconv.arch import Architecture, weight_rows
from sepconv.compat import import_tensorflow
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch.weights import keras_to_torch, to_keras_array

import_tensorflow(quiet=True)

import keras  # noqa: E402

from parity.harness.described import randomize  # noqa: E402
from sepconv_keras.arch import build_keras  # noqa: E402

__all__ = ["build_pair", "gradient_diff", "keras_layer_outputs", "layer_diffs", "nhwc"]


def build_pair(arch: Architecture, seed: int = 0) -> tuple[Any, ArchNet]:
    """Keras model and PyTorch network of ``arch`` in float64 (eval mode), the Keras weights copied over."""
    model = build_keras(arch, "float64", seed=seed)
    randomize(model, seed)  # the parity harness' own: kernels kept, every other weight random
    net = build_torch(arch, dtype=torch.float64).eval()
    keras_to_torch(model, net)
    return model, net


def nhwc(t: torch.Tensor) -> np.ndarray:
    """A PyTorch output in Keras' layout."""
    a = t.detach().numpy()
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def keras_layer_outputs(model: Any, x: np.ndarray, training: bool = False) -> list[np.ndarray]:
    """Every layer's output of Keras ``model`` on NHWC ``x``."""
    probe = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
    return [np.asarray(y) for y in probe(x, training=training)]


def layer_diffs(arch: Architecture, model: Any, net: ArchNet, x: np.ndarray) -> dict[str, float]:
    """Max abs difference of each layer's output (inference); softmax applied to PyTorch's final logits."""
    keras_out = keras_layer_outputs(model, x)
    with torch.no_grad():
        torch_out = net.forward_layers(torch.from_numpy(x).permute(0, 3, 1, 2))
    diffs = {}
    for layer, want in zip(arch.layers, keras_out, strict=True):
        got = torch_out[layer.name]
        if layer is arch.layers[-1] and arch.ends_in_softmax():
            got = torch.softmax(got, dim=1)
        diffs[layer.name] = float(np.abs(nhwc(got) - want).max())
    return diffs


def gradient_diff(arch: Architecture, model: Any, net: ArchNet, x: np.ndarray, training: bool) -> float:
    """Largest difference, relative to each gradient's largest magnitude (at least 1), between the two
    sides' gradients of ``sum(output * w)`` (a fixed random ``w``) with respect to every trainable weight,
    in Keras' layout; Keras' output and softmax(PyTorch's logits) when the last activation is softmax."""
    import tensorflow as tf

    w_out = np.random.default_rng(6).normal(0.0, 1.0, (x.shape[0], arch.classes))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=training) * w_out)
    grads = dict(
        zip(
            [id(v) for v in model.trainable_weights],
            tape.gradient(loss, model.trainable_weights),
            strict=True,
        )
    )
    net.train(training)
    out = net(torch.from_numpy(x).permute(0, 3, 1, 2))
    if arch.ends_in_softmax():
        out = torch.softmax(out, dim=1)
    (out * torch.from_numpy(w_out)).sum().backward()
    params = dict(net.named_parameters())
    rows = [r for r in weight_rows(arch) if r.trainable]
    worst = 0.0
    for row in rows:
        names = [r.keras_weight for r in rows if r.layer == row.layer]
        variable = model.get_layer(row.layer).trainable_weights[names.index(row.keras_weight)]
        want = np.asarray(grads[id(variable)])
        got = to_keras_array(row, params[row.torch_key].grad.numpy())
        worst = max(worst, float(np.abs(got - want).max() / max(1.0, np.abs(want).max())))
    return worst
