"""The data the checks run on: real Fashion-MNIST evaluation images and training batches (:class:`Setup`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sepconv.data import load_splits

__all__ = ["Setup", "load_setup"]


@dataclass(frozen=True)
class Setup:
    """The data: evaluation images ``(N, 28, 28, 1)`` float32 NHWC (real Fashion-MNIST test images) and
    training images/labels taken in order, ``batch_size`` at a time, for ``steps`` steps of SGD(``lr``).
    ``onnx`` is an ONNX file to run in the ONNX Runtime rows (``None``: export the checked network)."""

    x_eval: np.ndarray
    y_eval: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    steps: int = 300
    batch_size: int = 32
    lr: float = 0.01
    onnx: Path | None = None

    def batch(self, step: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
        """Training batch ``step`` (wrapping around the training images), images cast to ``dtype``."""
        idx = np.arange(step * self.batch_size, (step + 1) * self.batch_size) % len(self.x_train)
        return self.x_train[idx].astype(dtype), self.y_train[idx]


def load_setup(steps: int, seed: int, eval_images: int = 512) -> Setup:
    """Real Fashion-MNIST (found by :func:`sepconv.data.load_splits`): the first ``eval_images`` test
    images, and the training set shuffled by ``seed``."""
    splits = load_splits()
    order = np.random.default_rng(seed).permutation(len(splits.y_train))
    return Setup(
        splits.images("test")[:eval_images],
        splits.labels("test")[:eval_images],
        splits.images("train")[order],
        splits.labels("train")[order],
        steps=steps,
    )
