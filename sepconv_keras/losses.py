"""Sparse categorical cross-entropy with label smoothing, the loss ``F.cross_entropy`` computes.

Keras' ``SparseCategoricalCrossentropy`` has no ``label_smoothing``; ``CategoricalCrossentropy``
has, but wants one-hot targets. This loss takes integer labels ``(N,)`` and probabilities
``(N, 10)`` (the model's softmax output), and mixes ``label_smoothing`` of the uniform distribution
into the one-hot targets: ``-sum_k ((1 - e) [k = y] + e / K) log p_k``, which is
``torch.nn.functional.cross_entropy(logits, y, label_smoothing=e)``.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["SmoothedSparseCrossentropy", "make_loss"]


@keras.saving.register_keras_serializable(package="sepconv")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Integer labels ``(N,)``, probabilities ``(N, K)``; mean over the batch."""

    def __init__(
        self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        classes = keras.ops.shape(y_pred)[-1]
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
        return keras.losses.categorical_crossentropy(
            keras.ops.cast(one_hot, y_pred.dtype), y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(label_smoothing: float) -> str | keras.losses.Loss:
    """Keras' ``sparse_categorical_crossentropy`` (the reference), or the smoothed loss for ``e > 0``."""
    if label_smoothing == 0.0:
        return "sparse_categorical_crossentropy"
    return SmoothedSparseCrossentropy(label_smoothing)
