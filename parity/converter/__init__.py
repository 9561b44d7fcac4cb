"""The weight converter: Keras <-> PyTorch for the reference network, validated, all or nothing.

Self-contained: it imports nothing from :mod:`parity.harness`. Modules:
``transforms`` (layout permutations), ``mapping`` (rows from the architecture
table), ``keras_weights`` / ``torch_weights`` (finding each row's weight in a
model), ``transfer`` (validate, then assign), ``convert`` (the public entry
points and the re-typing helper), ``dtypes``, ``errors``, ``files`` (weight file
formats by extension) and ``cli`` (``sepconv-convert``).
"""

from sepconv.compat import guard_triton

guard_triton()

from parity.converter.convert import keras_copy, keras_to_torch, torch_copy, torch_to_keras
from parity.converter.dtypes import model_dtype
from parity.converter.errors import Mismatch, WeightFileError, WeightMismatchError
from parity.converter.files import load_weights_file, save_weights_file
from parity.converter.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping
from parity.converter.stored import StoredKerasModel
from parity.converter.transfer import transfer

__all__ = [
    "DEFAULT_TRANSFORMS",
    "Mismatch",
    "Row",
    "StoredKerasModel",
    "TransformSet",
    "WeightFileError",
    "WeightMismatchError",
    "build_mapping",
    "keras_copy",
    "keras_to_torch",
    "load_weights_file",
    "model_dtype",
    "save_weights_file",
    "torch_copy",
    "torch_to_keras",
    "transfer",
]
