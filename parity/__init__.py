"""The parity suite: a weight converter (:mod:`parity.converter`) and the harness proving the ports equal
(:mod:`parity.harness`).

Importing :mod:`parity` loads both frameworks in the order that keeps them
usable together (see :mod:`sepconv.compat`), whichever the caller imported first,
and exposes the converter's public API. If TensorFlow is not loaded yet, it is loaded
quietly (:func:`sepconv.compat.import_tensorflow` with ``quiet``): its start-up lines on
stderr (oneDNN, CPU flags, "failed call to cuInit" without a CUDA driver) are dropped and
``TF_CPP_MIN_LOG_LEVEL`` defaults to 2, unless the user has set it (0 keeps every line).
The commands ``sepconv-convert`` (:mod:`parity.converter.cli`) and ``sepconv-parity``
(:mod:`parity.harness.cli`) start here too, so their stderr holds only their own messages.
"""

from sepconv.compat import import_tensorflow

import_tensorflow(quiet=True)  # triton first (if installed), then TensorFlow without its start-up lines

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
