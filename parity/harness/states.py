"""Keras models in the weight states the checks run on: freshly initialised, random, trained."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

import sepconv_keras
from parity.converter.dtypes import model_dtype
from parity.harness.port import REFERENCE_PORT
from parity.harness.torch_runner import torch_sgd_stepper
from sepconv.init import keras_fans
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["fresh", "randomized", "trained"]


def fresh(seed: int = 0, dtype: str = "float32", spec: Sequence[LayerSpec] = REFERENCE) -> keras.Model:
    """The reference Keras model as ``build_model`` initialises it (glorot-uniform kernels, zero biases)."""
    return sepconv_keras.build_model(spec, seed=seed, dtype=dtype)


def randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """``model`` with every weight redrawn, biases included (non-zero, so a dropped bias shows).

    Kernels ~ N(0, 1/fan_in) with Keras' fans, biases ~ N(0, 0.1^2); returns ``model``.
    """
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(int(d) for d in v.shape)
        std = 0.1 if len(shape) == 1 else 1.0 / np.sqrt(keras_fans(shape)[0])
        v.assign(rng.normal(0.0, std, shape).astype(v.dtype))
    return model


def trained(
    model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int = 32, lr: float = 0.01
) -> keras.Model:
    """A reference Keras model with ``model``'s weights after ``steps`` SGD steps (trained in PyTorch).

    Batches are ``x[i*b:(i+1)*b]`` (NHWC) in order, wrapping around.
    """
    net = REFERENCE_PORT.torch_from(model)
    step = torch_sgd_stepper(net, lr)
    n = len(x)
    for i in range(steps):
        idx = np.arange(i * batch_size, (i + 1) * batch_size) % n
        step(x[idx], y[idx])
    return REFERENCE_PORT.keras_from(net, model_dtype(model))
