"""``init_from_file``: a described network's weights from the Keras model file it was read from.

The converter reads the file (:func:`parity.converter.described.keras_described`: each weight matched
to the description by layer name and shape, all checked finite) and its rows map each array to
PyTorch's layout (:func:`sepconv_torch.arch.weights.to_torch_array`, the pure permutations of
``sepconv-convert``), BatchNorm's moving mean and variance included; ``num_batches_tracked`` stays 0,
as after ``sepconv-convert``. The arrays are copied into the network in place: its parameters stay the
same objects. Importing :mod:`parity` loads TensorFlow and Keras (the ``keras`` extra), a few seconds
once per process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sepconv.arch import to_dict, weight_rows
from sepconv.errors import InputError
from sepconv_torch.arch.net import ArchNet
from sepconv_torch.arch.weights import to_torch_array

__all__ = ["CONSEQUENCE", "load_keras_file"]

#: what a refusal of the file's weights ends with
CONSEQUENCE = "training would start from them; nothing was trained"


def _keras_described() -> Callable[..., Any]:
    """The converter's :func:`~parity.converter.described.keras_described`, imported now (it loads
    TensorFlow)."""
    if "tensorflow" in sys.modules and sys.modules["tensorflow"] is None:
        del sys.modules["tensorflow"]  # sepconv-torch keeps it out for TensorBoard; the converter needs it
    try:
        from parity.converter.described import keras_described
    except ImportError as error:
        raise InputError(
            f"reading a Keras file's weights needs TensorFlow and Keras (the keras extra): {error}"
        ) from error
    return keras_described


def load_keras_file(net: ArchNet, path: str | Path) -> int:
    """Copy every weight of the Keras model file ``path`` into ``net``, whose description it must hold;
    returns the number of tensors copied. One-line refusals (a ``ValueError``) name the file."""
    path = Path(path)
    described = _keras_described()(path, consequence=CONSEQUENCE)
    if described is None:
        raise InputError(f"{path}: holds no Keras model config; expected a Keras model file (.keras, .h5)")
    if to_dict(described.arch) != to_dict(net.description):
        raise InputError(
            f"{path}: describes network {described.arch.name!r}, not the one built "
            f"({net.description.name!r}): the file changed since its description was read"
        )
    state = net.state_dict()
    rows = weight_rows(described.arch)
    with torch.no_grad():
        for row, array in zip(rows, described.arrays, strict=True):
            state[row.torch_key].copy_(torch.from_numpy(np.ascontiguousarray(to_torch_array(row, array))))
    return len(rows)
