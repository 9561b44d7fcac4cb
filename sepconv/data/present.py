"""How the standardised Fashion-MNIST images are presented to a network whose input is ``(H, W, C)``.

The rule, per image axis, applied to the standardised float32 images ``(N, 28, 28, 1)``:

* **larger** (``H > 28``): pad with the standardised black (a raw 0 pixel, the value that already fills
  Fashion-MNIST's border and the augmentation's shift), centred; an odd extra row goes at the bottom,
  an odd extra column at the right (``(H - 28) // 2`` rows above, the rest below), as TensorFlow's
  ``same`` padding places its extra pixel;
* **smaller** (``H < 28``): area resize (each output pixel is the mean of the input area it covers,
  fractional pixels weighted by the covered fraction; OpenCV's ``INTER_AREA``, TensorFlow's
  ``resize(method="area")``), computed in float64 as ``R_h @ image @ R_w.T`` and rounded once to float32;
* equal: unchanged.

The grey channel is then repeated to ``C`` channels. Height and width are treated independently
(28x40 pads only the width). NumPy only: both frameworks receive the same array, Keras in NHWC and
PyTorch as the NCHW view of the same memory (:func:`as_nchw`), so their inputs are bit-identical.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SIDE", "area_matrix", "as_nchw", "present", "presentation"]

#: Fashion-MNIST's image side
SIDE = 28


def area_matrix(size: int, source: int = SIDE) -> np.ndarray:
    """``(size, source)`` float64 weights of an area resize from ``source`` to ``size <= source`` pixels.

    Output pixel ``i`` covers input interval ``[i * s, (i + 1) * s)`` with ``s = source / size``; row
    ``i`` holds each input pixel's covered length divided by ``s`` (each row sums to 1).
    """
    if not 0 < size <= source:
        raise ValueError(f"an area resize shrinks: size must be in 1..{source}, received size={size}")
    scale = source / size
    starts = np.arange(size, dtype=np.float64)[:, None] * scale
    pixel = np.arange(source, dtype=np.float64)[None, :]
    covered = np.clip(np.minimum(starts + scale, pixel + 1) - np.maximum(starts, pixel), 0.0, None)
    return covered / scale


def _padding(size: int) -> tuple[int, int]:
    extra = size - SIDE
    return extra // 2, extra - extra // 2


def presentation(input_shape: tuple[int, int, int]) -> str:
    """The rule for ``input_shape`` in words (for logs and refusals)."""
    h, w, c = input_shape
    if (h, w) == (SIDE, SIDE):
        how = "28x28 as they are"
    else:
        parts = []
        for axis, size in (("rows", h), ("columns", w)):
            if size > SIDE:
                before, after = _padding(size)
                parts.append(f"{axis} padded {before}+{after} with black")
            elif size < SIDE:
                parts.append(f"{axis} area-resized 28->{size}")
        how = ", ".join(parts)
    return f"{how}, grey repeated to {c} channels" if c > 1 else how


def present(images: np.ndarray, input_shape: tuple[int, int, int], background: float) -> np.ndarray:
    """Standardised ``(N, 28, 28, 1)`` float32 images presented to ``(H, W, C)``: ``(N, H, W, C)`` float32.

    ``background`` is the standardised black (:attr:`sepconv.data.FashionMNISTSplits.background`). A
    28x28x1 input returns ``images`` itself (no copy). The result is C-contiguous NHWC.
    """
    if images.ndim != 4 or images.shape[1:] != (SIDE, SIDE, 1):
        raise ValueError(f"present needs images of shape (N, 28, 28, 1), received {images.shape}")
    h, w, c = input_shape
    if (h, w, c) == (SIDE, SIDE, 1):
        return images
    x = images[..., 0]  # (N, 28, 28)
    if h < SIDE or w < SIDE:
        rows = area_matrix(h) if h < SIDE else np.eye(SIDE)
        cols = area_matrix(w) if w < SIDE else np.eye(SIDE)
        # per image: rows @ x @ cols.T, float64 throughout, rounded once
        x = np.einsum("ij,njk,lk->nil", rows, x.astype(np.float64), cols, optimize=True).astype(np.float32)
    if h > SIDE or w > SIDE:
        pad_h = _padding(h) if h > SIDE else (0, 0)
        pad_w = _padding(w) if w > SIDE else (0, 0)
        x = np.pad(x, ((0, 0), pad_h, pad_w), constant_values=np.float32(background))
    out = np.empty((len(x), h, w, c), dtype=np.float32)
    out[...] = x[..., None]
    return out


def as_nchw(images: np.ndarray) -> np.ndarray:
    """The ``(N, C, H, W)`` view of NHWC ``images`` (the same memory; contiguous when ``C == 1``)."""
    if images.shape[-1] == 1:
        return images.reshape(images.shape[0], 1, *images.shape[1:3])
    return images.transpose(0, 3, 1, 2)
