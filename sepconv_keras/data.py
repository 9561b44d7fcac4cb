"""The shared splits as ``tf.data`` pipelines for Keras (NHWC), with the tuned recipe's augmentation."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["augmentation", "make_dataset"]


def augmentation(background: float, seed: int, pad: int = 2) -> keras.Sequential:
    """Horizontal flip and a random shift of up to ``pad`` pixels, filling with the standardised black value.

    Counterpart of :func:`sepconv_torch.data.train_augmentation` (same kinds of
    transform and ranges; the random draws differ between frameworks).
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(
                pad / 28,
                pad / 28,
                fill_mode="constant",
                fill_value=background,
                interpolation="nearest",
                seed=seed + 1,
            ),
        ],
        name="augment",
    )


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
