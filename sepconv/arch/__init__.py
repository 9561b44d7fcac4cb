"""Network descriptions: any chain network of the separable-CNN family, described once, framework-neutral.

A description (:class:`Architecture`) is a name, an input shape ``(H, W, C)`` and a chain of layers,
each a frozen dataclass with Keras' class name, argument names and defaults. It comes from Python,
from YAML (:func:`load_yaml`; shipped: ``reference``, ``standard``, ``mobilenet_v1_025_32``) or from a
Keras model file read as data (:func:`load_keras_architecture`: ``.keras``, Keras 2/3 ``.h5``, config
``.json``). It gives every layer's output shape and Keras' parameter counts, and refuses anything
outside the family in one line naming the first layer and the argument.

The family, and what each layer is in PyTorch (``sepconv_torch.arch``):

=========================  ==============================================  =================================
Keras layer                arguments                                       PyTorch
=========================  ==============================================  =================================
``Conv2D``                 filters, kernel_size, strides, padding,         ``nn.Conv2d``, TF's ``same``
                           activation, use_bias
``SeparableConv2D``        + depth_multiplier                              ``conv_dw``, ``conv_pw``
``DepthwiseConv2D``        kernel_size, strides, padding,                  ``nn.Conv2d(C, C*m, groups=C)``,
                           depth_multiplier, activation, use_bias          channel ``c*m + k``
``BatchNormalization``     axis (channels, -1), momentum, epsilon,         Keras' moving averages (biased
                           center, scale                                   variance), epsilon 1e-3
``Activation``             activation                                      the activation's module
``ReLU``                   max_value, negative_slope, threshold            Keras' formula
``LeakyReLU``              negative_slope (0.3)                            ``nn.LeakyReLU``
``MaxPooling2D``           pool_size, strides, padding                     ``same``: ``-inf`` padding
``AveragePooling2D``       pool_size, strides, padding                     ``same``: mean of covered inputs
``GlobalAveragePooling2D`` keepdims                                        mean over H, W
``GlobalMaxPooling2D``     keepdims                                        max over H, W
``ZeroPadding2D``          padding ((top, bottom), (left, right))          ``F.pad``
``Dropout``                rate                                            ``nn.Dropout``
``SpatialDropout2D``       rate                                            ``nn.Dropout2d``
``Flatten``                                                                ``(h, w, c)`` order (Keras')
``Reshape``                target_shape (F,) or (H, W, C)                  channels-last element order
``Dense``                  units, activation, use_bias                     ``nn.Linear``
=========================  ==============================================  =================================

Activations (argument or ``Activation`` layer): ``linear``, ``relu``, ``relu6``, ``selu``, ``elu``,
``leaky_relu`` (slope 0.2), ``gelu`` (erf), ``gelu_tanh`` (tanh approximation), ``silu``/``swish``,
``sigmoid``, ``tanh``, and ``softmax`` on the last layer only (PyTorch returns logits).

Refused, naming the layer: a branch (``Add``, ``Concatenate``, ...), a ``Lambda`` or any other class,
``dilation_rate`` other than 1, ``groups`` other than 1, ``channels_first``, Dropout ``noise_shape``,
BatchNormalization ``renorm``, a Dense on an ``(H, W, C)`` input, a window larger than a ``valid``
input, a network that does not end in ``(classes,)``.
"""

from __future__ import annotations

from sepconv.arch.errors import ArchitectureError
from sepconv.arch.keras_files import architecture_from_config, load_keras_architecture, read_keras_config
from sepconv.arch.layers import (
    ACTIVATIONS,
    LAYER_CLASSES,
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Layer,
    LeakyReLU,
    MaxPooling2D,
    ReLU,
    Reshape,
    SeparableConv2D,
    SpatialDropout2D,
    ZeroPadding2D,
)
from sepconv.arch.mapping import WeightRow, weight_rows
from sepconv.arch.network import Architecture, module_name
from sepconv.arch.yaml_io import description_path, dump_yaml, from_dict, load_yaml, to_dict

__all__ = [
    "ACTIVATIONS",
    "LAYER_CLASSES",
    "Activation",
    "Architecture",
    "ArchitectureError",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Layer",
    "LeakyReLU",
    "MaxPooling2D",
    "ReLU",
    "Reshape",
    "SeparableConv2D",
    "SpatialDropout2D",
    "WeightRow",
    "ZeroPadding2D",
    "architecture_from_config",
    "description_path",
    "dump_yaml",
    "from_dict",
    "load_keras_architecture",
    "load_yaml",
    "module_name",
    "read_keras_config",
    "to_dict",
    "weight_rows",
]
