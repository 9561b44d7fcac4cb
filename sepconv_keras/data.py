"""The shared splits as ``tf.data`` pipelines for Keras (NHWC), with the tuned recipe's augmentation.

The augmentation (:func:`train_stream`) is the counterpart of
:func:`sepconv_torch.data.train_augmentation`: the same flips and integer shifts of up to 2 pixels,
drawn with stateless random ops (the draws differ between frameworks).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from sepconv.data import FashionMNISTSplits
from sepconv.data.present import present

__all__ = ["make_dataset", "presented_images", "train_stream"]


def presented_images(
    splits: FashionMNISTSplits, input_shape: tuple[int, int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test images ``(N, H, W, C)`` float32 for a model of ``input_shape``
    (:func:`sepconv.data.present.present`; ``None``: the reference's 28x28x1, the arrays themselves)."""
    images = tuple(splits.images(split) for split in ("train", "val", "test"))
    if input_shape is None:
        return images  # type: ignore[return-value]
    return tuple(present(x, input_shape, splits.background) for x in images)  # type: ignore[return-value]


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    augment: keras.Sequential | None = None,
) -> tf.data.Dataset:
    """Batches of ``(N, 28, 28, 1)`` float32 images and ``(N,)`` int64 labels, reshuffled every epoch."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _augment_batch(x: tf.Tensor, seed: tf.Tensor, background: float, pad: int) -> tf.Tensor:
    """Flip each image of ``(B, 28, 28, 1)`` with probability 1/2 and shift it by ``-pad..pad`` pixels.

    Stateless: the draws are a function of ``seed`` (shape ``(2,)``) alone.
    """
    flip_seed, shift_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    flip = tf.random.stateless_uniform([n], flip_seed) < 0.5
    x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    padded = tf.pad(x - background, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) + background
    offsets = tf.random.stateless_uniform([n, 2], shift_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(h)[None, :]
    cols = offsets[:, 1:] + tf.range(w)[None, :]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def train_stream(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    seed: int,
    first_epoch: int,
    epochs: int,
    steps: int,
    background: float | None = None,
    pad: int = 2,
) -> tf.data.Dataset:
    """Training batches for epochs ``first_epoch..epochs-1``, ``steps`` batches each, as one stream.

    Epoch ``e`` is a permutation drawn from ``(seed, e)``; with ``background`` set, batch ``b`` of
    epoch ``e`` is flipped and shifted (up to ``pad`` pixels, filling with ``background``) with draws
    from ``(seed, e, b)``. Nothing depends on what was drawn before, so a run resumed at epoch
    ``first_epoch`` sees exactly the batches an uninterrupted run sees, and the batches do not depend
    on how many replicas share them. Images ``(B, 28, 28, 1)`` float32, labels ``(B,)``.
    """
    n = len(labels)
    x_all, y_all = tf.constant(images), tf.constant(labels)

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), tf.stack([seed, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).take(steps).enumerate()
        return batches.map(lambda b, idx: (e, b, idx))

    def load(e: tf.Tensor, b: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.gather(x_all, idx), tf.gather(y_all, idx)
        if background is not None:
            x = _augment_batch(x, tf.stack([seed * 1_000_003 + e, b]), background, pad)
        return x, y

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
