"""Helpers shared by the parity tests: the tutorial's own Keras Sequential, torch probabilities of NHWC images."""

from __future__ import annotations

import keras
import numpy as np
import torch


def tutorial_model(dense_units: int = 128) -> keras.Sequential:
    """The network as the reference tutorial writes it: automatic layer names, input_shape on the first layer."""
    L = keras.layers
    return keras.Sequential(
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
