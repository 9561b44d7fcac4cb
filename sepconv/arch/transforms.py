"""Named, reversible layouts of Keras and PyTorch weight arrays, and the Flatten permutation (NumPy only).

Every transform is a pure permutation of the array's elements (a transpose,
possibly after a reshape), so converting is exact in every dtype and a round
trip returns the bits it started from.

==================  =========================  ==========================
transform           Keras layout               PyTorch layout
==================  =========================  ==========================
``identity``        ``(n,)`` bias              ``(n,)``
``conv``            ``(kh, kw, in, out)``      ``(out, in, kh, kw)``
``depthwise``       ``(kh, kw, C, 1)``         ``(C, 1, kh, kw)``
``pointwise``       ``(1, 1, in, out)``        ``(out, in, 1, 1)``
``dense``           ``(in, out)``              ``(out, in)``
``flatten_dense``   ``(h*w*c, out)``, rows in  ``(out, c*h*w)``, columns in
                    ``(h, w, c)`` order         ``(c, h, w)`` order
==================  =========================  ==========================

``flatten_dense`` is the kernel of the first Dense after a Flatten: Keras
flattens an NHWC feature map, PyTorch an NCHW one, so the input features are
the same numbers in a different order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CONV",
    "DENSE",
    "DEPTHWISE",
    "IDENTITY",
    "POINTWISE",
    "Transform",
    "flatten_dense",
    "flatten_permutation",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]


def _transpose(axes: tuple[int, ...]) -> ArrayFn:
    def apply(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(a, axes))

    return apply


@dataclass(frozen=True)
class Transform:
    """A named pair of functions: ``to_torch(keras_array)`` and its inverse ``to_keras(torch_array)``."""

    name: str
    keras_layout: str
    torch_layout: str
    to_torch: ArrayFn = field(repr=False, compare=False)
    to_keras: ArrayFn = field(repr=False, compare=False)


IDENTITY = Transform(
    "identity", "(n,)", "(n,)", lambda a: np.array(a, copy=True), lambda a: np.array(a, copy=True)
)
CONV = Transform(
    "conv", "(kh, kw, in, out)", "(out, in, kh, kw)", _transpose((3, 2, 0, 1)), _transpose((2, 3, 1, 0))
)
# Not CONV: a grouped conv keeps its channels in PyTorch's *out* axis, so (kh, kw, C, 1) must become
# (C, 1, kh, kw), where CONV would give (1, C, kh, kw).
DEPTHWISE = Transform(
    "depthwise", "(kh, kw, C, 1)", "(C, 1, kh, kw)", _transpose((2, 3, 0, 1)), _transpose((2, 3, 0, 1))
)
POINTWISE = Transform(
    "pointwise", "(1, 1, in, out)", "(out, in, 1, 1)", _transpose((3, 2, 0, 1)), _transpose((2, 3, 1, 0))
)
DENSE = Transform("dense", "(in, out)", "(out, in)", _transpose((1, 0)), _transpose((1, 0)))


def flatten_permutation(h: int, w: int, c: int) -> np.ndarray:
    """The one Flatten permutation: ``keras_flat = torch_flat[..., perm]``.

    Keras flattens an NHWC map ``(h, w, c)``, PyTorch an NCHW map ``(c, h, w)``: Keras feature
    ``(i*w + j)*c + k`` (pixel ``(i, j)``, channel ``k``) is PyTorch feature ``(k*h + i)*w + j``.
    """
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)


def flatten_dense(h: int, w: int, c: int) -> Transform:
    """The kernel of a Dense fed by Flatten of an ``(h, w, c)`` feature map (NHWC in Keras, NCHW in PyTorch).

    Keras ``(h*w*c, out)``, rows in Keras' flatten order; PyTorch ``(out, c*h*w)``, columns in
    PyTorch's; the rows move by :func:`flatten_permutation`.
    """
    perm = flatten_permutation(h, w, c)

    def to_torch(a: np.ndarray) -> np.ndarray:
        out = np.empty((a.shape[-1], a.shape[0]), dtype=a.dtype)
        out[:, perm] = a.T
        return out

    def to_keras(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a[:, perm].T)

    return Transform(
        f"flatten_dense[h={h},w={w},c={c}]",
        "(h*w*c, out), (h, w, c) order",
        "(out, c*h*w), (c, h, w) order",
        to_torch,
        to_keras,
    )
