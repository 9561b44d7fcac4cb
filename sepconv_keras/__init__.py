"""The Keras (TensorFlow) model of the separable CNN and its training entry.

Importing the package does not import TensorFlow, so ``sepconv-keras`` checks
its recipe, options and data (and refuses them in one line) before paying for
it. It does import triton first where installed (:mod:`sepconv.compat`), so
TensorFlow imported later by any module of the package leaves PyTorch usable.
:func:`build_model` is loaded on first use, with TensorFlow loaded quietly
(:func:`sepconv.compat.import_tensorflow` with ``quiet``: no start-up lines on stderr,
``TF_CPP_MIN_LOG_LEVEL`` 2 unless the user has set it).
"""

from __future__ import annotations

from typing import Any

from sepconv.compat import guard_triton

guard_triton()  # triton before TensorFlow, if installed, so PyTorch stays usable in this process

__all__ = ["build_model"]


def __getattr__(name: str) -> Any:
    if name == "build_model":
        from sepconv.compat import import_tensorflow

        import_tensorflow(quiet=True)
        from sepconv_keras.model import build_model

        return build_model
    raise AttributeError(f"module 'sepconv_keras' has no attribute {name!r}")
