"""The reference split and standardisation, computed once, shared by both frameworks.

* validation = the first 5,000 training images, training = the other 55,000,
  test = the 10,000 test images;
* one scalar mean and standard deviation (population, ``ddof=0``, as
  scikit-learn's ``StandardScaler`` on all pixels as one feature), computed in
  float64 on the 55,000 training images' raw 0-255 pixels, applied to all splits;
* float32 images, int64 labels.

Images are kept channels-last ``(N, 28, 28, 1)`` for Keras; with one channel
the PyTorch layout ``(N, 1, 28, 28)`` is a reshape of the same memory, so both
frameworks receive bit-identical values.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sepconv.data.files import FILES
from sepconv.data.idx import read_idx
from sepconv.data.locate import find_data_dir

__all__ = ["NUM_TRAIN", "NUM_VAL", "FashionMNISTSplits", "load_raw", "load_splits", "pixel_mean_std"]

NUM_VAL = 5000
#: the training split: the 60,000 training images less the validation split
NUM_TRAIN = 60000 - NUM_VAL
Layout = Literal["NHWC", "NCHW"]


@dataclass(frozen=True)
class FashionMNISTSplits:
    """Standardised splits. Images ``(N, 28, 28, 1)`` float32 (NHWC), labels ``(N,)`` int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: float  # of the raw 0-255 training pixels
    std: float
    data_dir: Path

    def images(self, split: str, layout: Layout = "NHWC") -> np.ndarray:
        """Images of ``split`` ("train", "val", "test") in ``layout``; NCHW is a view of NHWC."""
        x = getattr(self, f"x_{split}")
        if layout == "NCHW":
            return x.reshape(x.shape[0], 1, 28, 28)
        if layout != "NHWC":
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', received {layout!r}")
        return x

    def labels(self, split: str) -> np.ndarray:
        """Labels of ``split``, int64 in 0..9."""
        return getattr(self, f"y_{split}")

    @property
    def background(self) -> float:
        """The standardised value of a black (0) pixel: the fill value for padding augmentations."""
        return float(np.float32((0.0 - self.mean) / self.std))


@functools.lru_cache(maxsize=4)
def _load_raw_cached(
    directory: Path, stamp: tuple[tuple[int, int], ...], verify: bool
) -> dict[str, np.ndarray]:
    del stamp  # part of the cache key only: a changed file is read again
    return {f.key: read_idx(directory / f.filename, f, verify=verify) for f in FILES}


def load_raw(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True, verify: bool = True
) -> tuple[dict[str, np.ndarray], Path]:
    """The four raw uint8 arrays (keys as in :data:`~sepconv.data.files.FILES`) and their directory."""
    directory = find_data_dir(data_dir, download=download).resolve()
    stamp = tuple((st.st_mtime_ns, st.st_size) for st in (os.stat(directory / f.filename) for f in FILES))
    return _load_raw_cached(directory, stamp, verify), directory


#: pixels per ``np.bincount`` call in :func:`pixel_mean_std` (its int64 copy: 2 MiB)
_COUNT_CHUNK = 1 << 18


def pixel_mean_std(images: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation of uint8 ``images``' pixels, in float64 from their histogram.

    The 256 exact counts make both a sum of 256 terms, with no float64 copy of the images (equal to
    ``images.mean(dtype=np.float64)`` and ``.std(...)`` on Fashion-MNIST, a test checks). ``np.bincount``
    casts its input to ``intp``; counting ``_COUNT_CHUNK`` pixels at a time keeps that copy in cache
    instead of an 8-bytes-per-pixel array of the whole set.
    """
    if images.dtype != np.uint8:
        raise TypeError(f"pixel_mean_std needs uint8 images, received {images.dtype}")
    flat = images.reshape(-1)
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, flat.size, _COUNT_CHUNK):
        counts += np.bincount(flat[start : start + _COUNT_CHUNK], minlength=256)
    counts = counts.astype(np.float64)
    values = np.arange(256, dtype=np.float64)
    n = counts.sum()
    mean = float((counts * values).sum() / n)
    return mean, float(np.sqrt((counts * (values - mean) ** 2).sum() / n))


def load_splits(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True, verify: bool = True
) -> FashionMNISTSplits:
    """Find, verify and parse the files, split as the reference does and standardise."""
    raw, directory = load_raw(data_dir, download=download, verify=verify)
    train_u8 = raw["train_images"][NUM_VAL:]
    mean, std = pixel_mean_std(train_u8)
    # (v - mean) / std in float64, rounded once to float32, for each of the 256 pixel values: indexing
    # this table gives every image exactly what the formula gives, without a float64 copy of the data
    table = ((np.arange(256, dtype=np.float64) - mean) / std).astype(np.float32)

    def standardise(images: np.ndarray) -> np.ndarray:
        return table[images].reshape(-1, 28, 28, 1)

    labels = {k: raw[k].astype(np.int64) for k in ("train_labels", "test_labels")}
    return FashionMNISTSplits(
        x_train=standardise(train_u8),
        y_train=labels["train_labels"][NUM_VAL:],
        x_val=standardise(raw["train_images"][:NUM_VAL]),
        y_val=labels["train_labels"][:NUM_VAL],
        x_test=standardise(raw["test_images"]),
        y_test=labels["test_labels"],
        mean=mean,
        std=std,
        data_dir=directory,
    )
