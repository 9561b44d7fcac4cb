"""Weights between a Keras model and an :class:`ArchNet` of the same description, through the mapping rows.

The rows come from :func:`sepconv.arch.mapping.weight_rows`; each names a transform of
:mod:`sepconv.arch.transforms` (a pure permutation, so the copy is exact in every dtype). A
depthwise kernel with ``depth_multiplier`` ``m`` goes through ``depthwise`` and a reshape:
Keras ``(kh, kw, C, m)`` -> ``(C, m, kh, kw)`` -> PyTorch ``(C*m, 1, kh, kw)``, output channel
``c*m + k``. Every row is checked against both sides before anything is assigned.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from sepconv.arch import transforms as T
from sepconv.arch.errors import ArchitectureError
from sepconv.arch.mapping import WeightRow, weight_rows
from sepconv.arch.transforms import Transform
from sepconv_torch.arch.net import ArchNet

if TYPE_CHECKING:
    Table = dict[str, Transform]

__all__ = ["keras_to_torch", "to_keras_array", "to_torch_array", "torch_to_keras", "transforms"]


@functools.cache
def transforms() -> dict[str, Transform]:
    """Transform name -> the named transform of :mod:`sepconv.arch.transforms`."""
    return {t.name: t for t in (T.IDENTITY, T.CONV, T.DEPTHWISE, T.POINTWISE, T.DENSE)}


def to_torch_array(row: WeightRow, array: np.ndarray, table: Table | None = None) -> np.ndarray:
    """A Keras array of ``row`` in PyTorch's layout (``table``: default :func:`transforms`)."""
    return (table or transforms())[row.transform].to_torch(array).reshape(row.torch_shape)


def to_keras_array(row: WeightRow, array: np.ndarray, table: Table | None = None) -> np.ndarray:
    """A PyTorch array of ``row`` in Keras' layout (``table``: default :func:`transforms`)."""
    if row.transform == "depthwise":
        kh, kw, c, m = row.keras_shape
        array = array.reshape(c, m, kh, kw)
    return (table or transforms())[row.transform].to_keras(array).reshape(row.keras_shape)


def _keras_arrays(model: Any, rows: Sequence[WeightRow]) -> list[np.ndarray]:
    arrays: list[np.ndarray] = []
    by_layer: dict[str, list[np.ndarray]] = {}
    for row in rows:
        if row.layer not in by_layer:
            by_layer[row.layer] = [np.asarray(w) for w in model.get_layer(row.layer).get_weights()]
        arrays.append(by_layer[row.layer].pop(0))
    return arrays


def keras_to_torch(model: Any, net: ArchNet, table: Table | None = None) -> int:
    """Copy every weight of Keras ``model`` into ``net`` (parameters and BatchNorm buffers); returns the
    number of tensors copied. Refuses, naming each, any weight whose shape differs from the description."""
    rows = weight_rows(net.description)
    arrays = _keras_arrays(model, rows)
    state = net.state_dict()
    problems = [
        f"{row.layer}/{row.keras_weight}: Keras {tuple(a.shape)}, the description {row.keras_shape}"
        for row, a in zip(rows, arrays, strict=True)
        if tuple(a.shape) != row.keras_shape
    ]
    problems += [f"{row.torch_key}: not in the PyTorch network" for row in rows if row.torch_key not in state]
    if problems:
        raise ArchitectureError("the weights do not fit the description: " + "; ".join(problems))
    with torch.no_grad():
        for row, array in zip(rows, arrays, strict=True):
            target = state[row.torch_key]
            target.copy_(torch.from_numpy(to_torch_array(row, array, table)).to(target.dtype))
    return len(rows)


def torch_to_keras(net: ArchNet, model: Any, table: Table | None = None) -> int:
    """Copy every weight of ``net`` into Keras ``model`` (``set_weights`` per layer); returns the count."""
    rows = weight_rows(net.description)
    state = net.state_dict()
    by_layer: dict[str, list[np.ndarray]] = {}
    for row in rows:
        array = state[row.torch_key].detach().cpu().numpy()
        by_layer.setdefault(row.layer, []).append(to_keras_array(row, array, table))
    for name, arrays in by_layer.items():
        model.get_layer(name).set_weights(arrays)
    return len(rows)
