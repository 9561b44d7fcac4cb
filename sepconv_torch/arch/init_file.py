"""``init_from_file``: a described network's weights from the Keras model file it was read from.

The file is read as data, with h5py and JSON only (:func:`sepconv.arch.keras_weights.keras_file_weights`:
each weight matched to the description by layer name and shape, all checked finite; no TensorFlow), and
its rows map each array to PyTorch's layout (:func:`sepconv_torch.arch.weights.to_torch_array`, the pure
permutations of ``sepconv-convert``), BatchNorm's moving mean and variance included;
``num_batches_tracked`` stays 0, as after ``sepconv-convert``. The arrays are copied into the network in
place: its parameters stay the same objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sepconv.arch import to_dict, weight_rows
from sepconv.arch.keras_weights import keras_file_weights
from sepconv.errors import InputError
from sepconv_torch.arch.net import ArchNet
from sepconv_torch.arch.weights import to_torch_array

__all__ = ["CONSEQUENCE", "load_keras_file"]

#: what a refusal of the file's weights ends with
CONSEQUENCE = "training would start from them; nothing was trained"


def load_keras_file(net: ArchNet, path: str | Path) -> int:
    """Copy every weight of the Keras model file ``path`` into ``net``, whose description it must hold;
    returns the number of tensors copied. One-line refusals (a ``ValueError``) name the file."""
    path = Path(path)
    arch, arrays = keras_file_weights(path, CONSEQUENCE, InputError)
    if to_dict(arch) != to_dict(net.description):
        raise InputError(
            f"{path}: describes network {arch.name!r}, not the one built "
            f"({net.description.name!r}): the file changed since its description was read"
        )
    state = net.state_dict()
    rows = weight_rows(arch)
    with torch.no_grad():
        for row, array in zip(rows, arrays, strict=True):
            state[row.torch_key].copy_(torch.from_numpy(np.ascontiguousarray(to_torch_array(row, array))))
    return len(rows)
