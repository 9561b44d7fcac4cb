"""Framework-neutral core of sepconv: the architecture table and the Fashion-MNIST data.

Nothing in this package imports torch or TensorFlow; both framework packages
(:mod:`sepconv_torch`, :mod:`sepconv_keras`) build on it.
"""

from sepconv.spec import REFERENCE, LayerSpec, layer_param_count, weighted_layers

__all__ = ["REFERENCE", "LayerSpec", "layer_param_count", "weighted_layers"]
