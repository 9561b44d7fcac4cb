"""Helpers shared by the parity tests: the tutorial's Keras Sequential, PyTorch probabilities, training."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import torch


def tutorial_model(dense_units: int = 128, api: Any = keras) -> Any:
    """The network as the reference tutorial writes it: automatic layer names, input_shape on layer one.

    ``api`` is the Keras package to build it with: ``keras`` (3) or ``tf_keras`` (the Keras 2 line).
    """
    L = api.layers
    return api.Sequential(
        [
            L.Conv2D(32, 3, padding="same", activation="selu", input_shape=(28, 28, 1)),
            L.SeparableConv2D(32, 3, padding="same", activation="selu"),
            L.MaxPool2D(),
            L.SeparableConv2D(64, 3, padding="same", activation="selu"),
            L.SeparableConv2D(64, 3, padding="same", activation="selu"),
            L.MaxPool2D(),
            L.SeparableConv2D(128, 3, padding="same", activation="selu"),
            L.SeparableConv2D(128, 3, padding="same", activation="selu"),
            L.MaxPool2D(),
            L.Flatten(),
            L.Dense(dense_units, activation="selu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def torch_probs(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Softmax of ``net``'s logits for NHWC images ``x`` (eval mode, no gradients)."""
    with torch.no_grad():
        return torch.softmax(net.eval()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())), -1).numpy()


def train_tuned(x: np.ndarray, y: np.ndarray, steps: int, seed: int = 0) -> torch.nn.Module:
    """A SepConvNet trained ``steps`` steps with the tuned recipe's settings (``lecun_normal_dw`` init,
    SGD lr 0.05 with Nesterov momentum 0.9, batch 64, linear warm-up over the first half) on NHWC images
    ``x`` taken in order; no augmentation. Returns the float32 network in eval mode."""
    import torch.nn.functional as F

    import sepconv_torch

    net = sepconv_torch.build_model(initializer="lecun_normal_dw", seed=seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    warmup = max(1, steps // 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # TensorFlow is loaded: PyTorch's threaded CPU kernels crawl beside it
    try:
        for i in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = 0.05 * min(1.0, (i + 1) / warmup)
            idx = np.arange(i * 64, (i + 1) * 64) % len(x)
            images = torch.from_numpy(x[idx].transpose(0, 3, 1, 2).copy())
            loss = F.cross_entropy(net(images), torch.from_numpy(y[idx]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()
