"""The Keras (TensorFlow) model of the separable CNN and its training entry."""

from sepconv.compat import import_tensorflow

import_tensorflow()  # triton first, if installed, so PyTorch stays usable in this process

from sepconv_keras.model import build_model

__all__ = ["build_model"]
