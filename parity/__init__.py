"""The parity suite: weight transfer between the Keras and PyTorch networks, and the checks that prove them equal.

Importing :mod:`parity` loads both frameworks in the order that keeps them
usable together (see :mod:`sepconv.compat`), whichever the caller imported first.
"""

from sepconv.compat import guard_triton

guard_triton()

from parity.convert import keras_to_torch, torch_to_keras, transfer
from parity.errors import WeightMismatchError
from parity.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping

__all__ = [
    "DEFAULT_TRANSFORMS",
    "Row",
    "TransformSet",
    "WeightMismatchError",
    "build_mapping",
    "keras_to_torch",
    "torch_to_keras",
    "transfer",
]
