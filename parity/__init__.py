"""The parity suite: a weight converter (:mod:`parity.converter`) and the harness proving the ports equal
(:mod:`parity.harness`).

Importing :mod:`parity` loads both frameworks in the order that keeps them
usable together (see :mod:`sepconv.compat`), whichever the caller imported first,
and exposes the converter's public API.
"""

from sepconv.compat import guard_triton

guard_triton()

from parity.converter import (
    DEFAULT_TRANSFORMS,
    Mismatch,
    Row,
    StoredKerasModel,
    TransformSet,
    WeightFileError,
    WeightMismatchError,
    build_mapping,
    keras_to_torch,
    load_weights_file,
    torch_to_keras,
    transfer,
)

__all__ = [
    "DEFAULT_TRANSFORMS",
    "Mismatch",
    "Row",
    "StoredKerasModel",
    "TransformSet",
    "WeightFileError",
    "WeightMismatchError",
    "build_mapping",
    "keras_to_torch",
    "load_weights_file",
    "torch_to_keras",
    "transfer",
]
