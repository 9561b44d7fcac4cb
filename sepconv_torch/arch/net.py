"""A description (:class:`sepconv.arch.Architecture`) built as a PyTorch module, Keras' numerics kept.

Children are named from the Keras layer names (:func:`sepconv.arch.module_name`), never by index, so
state-dict keys read ``conv_dw_1.weight``, ``conv_dw_1_bn.running_var``, ``sepconv1.conv_dw.weight``.
A layer's ``activation`` argument is ``activations[<name>]`` (no parameters, so no keys).

:meth:`ArchNet.forward` runs an activation that never decreases (``relu``, ``selu``, a ``ReLU`` layer,
...) after the max pool that directly follows it: ``max(f(x)) == f(max(x))`` for such ``f``, so the
logits are the same for a quarter of the activation's work (a 2x2 pool), forward and backward, and the
gradient reaches the same pixel of each window. :meth:`ArchNet.forward_layers` keeps the description's
literal order, since it reports every layer's output.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from sepconv.arch import layers as L
from sepconv.arch.errors import ArchitectureError
from sepconv.arch.network import Architecture, module_name
from sepconv.init import Initializer
from sepconv_torch.arch import modules as M
from sepconv_torch.init import keras_init_
from sepconv_torch.selu import SELU

__all__ = ["MONOTONE_ACTIVATIONS", "ArchNet", "activation_module", "build_torch", "forward_order"]

#: Keras activation name -> PyTorch module (``softmax``, on the last layer only, gives logits)
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "linear": nn.Identity,
    "softmax": nn.Identity,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "selu": SELU,  # TensorFlow's float32 formula (sepconv_torch.selu); float64 takes expm1
    "elu": nn.ELU,
    "leaky_relu": lambda: M.KerasLeakyReLU(0.2),  # Keras' activations.leaky_relu default slope
    "gelu": lambda: M.KerasGELU(approximate=False),
    "gelu_tanh": lambda: M.KerasGELU(approximate=True),
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}


#: Keras activations that never decrease, so commute with a max pool (GELU, SiLU and softmax do not)
MONOTONE_ACTIVATIONS = frozenset({"relu", "relu6", "selu", "elu", "leaky_relu", "sigmoid", "tanh"})


def activation_module(name: str) -> nn.Module:
    """The PyTorch module of Keras activation ``name``."""
    return _ACTIVATIONS[name]()


def _conv(layer: L.Conv2D | L.SeparableConv2D | L.DepthwiseConv2D, cin: int) -> nn.Module:
    if isinstance(layer, L.Conv2D):
        return M.KerasConv2d(
            cin, layer.filters, layer.kernel_size, layer.strides, layer.padding, bias=layer.use_bias
        )
    if isinstance(layer, L.SeparableConv2D):
        return M.KerasSeparableConv2d(
            cin,
            layer.filters,
            layer.kernel_size,
            layer.strides,
            layer.padding,
            layer.depth_multiplier,
            layer.use_bias,
        )
    return M.KerasConv2d(
        cin,
        cin * layer.depth_multiplier,
        layer.kernel_size,
        layer.strides,
        layer.padding,
        cin,
        layer.use_bias,
    )


def layer_module(layer: L.Layer, shape: tuple[int, ...]) -> nn.Module:
    """The module of one layer fed an input of channels-last ``shape``."""
    c = shape[-1]
    if isinstance(layer, L.Conv2D | L.SeparableConv2D | L.DepthwiseConv2D):
        return _conv(layer, c)
    if isinstance(layer, L.BatchNormalization):
        return M.KerasBatchNorm(c, layer.epsilon, layer.momentum, layer.center, layer.scale)
    if isinstance(layer, L.Activation):
        return activation_module(layer.activation)
    if isinstance(layer, L.ReLU):
        return M.KerasReLU(layer.max_value, layer.negative_slope, layer.threshold)
    if isinstance(layer, L.LeakyReLU):
        return M.KerasLeakyReLU(layer.negative_slope)
    if isinstance(layer, L.MaxPooling2D | L.AveragePooling2D):
        mode = "max" if isinstance(layer, L.MaxPooling2D) else "avg"
        return M.KerasPool2d(mode, layer.pool_size, layer.strides, layer.padding)  # type: ignore[arg-type]
    if isinstance(layer, L.GlobalAveragePooling2D | L.GlobalMaxPooling2D):
        return M.KerasGlobalPool2d(
            "avg" if isinstance(layer, L.GlobalAveragePooling2D) else "max", layer.keepdims
        )
    if isinstance(layer, L.ZeroPadding2D):
        return M.KerasZeroPad2d(layer.padding)
    if isinstance(layer, L.Dropout):
        return nn.Dropout(layer.rate)
    if isinstance(layer, L.SpatialDropout2D):
        return nn.Dropout2d(layer.rate)
    if isinstance(layer, L.Flatten):
        return M.KerasFlatten()
    if isinstance(layer, L.Reshape):
        return M.KerasReshape(layer.target_shape)
    if isinstance(layer, L.Dense):
        return nn.Linear(c, layer.units, bias=layer.use_bias)
    raise AssertionError(f"{layer.where}: no PyTorch module")  # unreachable: the kinds are closed


def _is_monotone_layer(layer: L.Layer) -> bool:
    """Whether ``layer`` is an element-wise activation layer that never decreases."""
    if isinstance(layer, L.Activation):
        return layer.activation in MONOTONE_ACTIVATIONS
    # ReLU's threshold and slope are >= 0 (checked), so its jump at the threshold goes up
    return isinstance(layer, L.ReLU | L.LeakyReLU)


def forward_order(description: Architecture) -> tuple[tuple[str, bool], ...]:
    """``(module name, is the layer's own activation)`` in the order :meth:`ArchNet.forward` runs them.

    A monotone activation (a layer's own, or an activation layer) directly followed by a
    ``MaxPooling2D`` or ``GlobalMaxPooling2D`` runs right after that pool instead.
    """
    layers = description.layers
    order: list[tuple[str, bool]] = []
    moved: list[tuple[str, bool]] = []  # activations waiting for the pool after them
    for layer, following in zip(layers, [*layers[1:], None], strict=True):
        ident = module_name(layer.name)
        before_max_pool = isinstance(following, L.MaxPooling2D | L.GlobalMaxPooling2D)
        own = getattr(layer, "activation", "linear")
        if before_max_pool and _is_monotone_layer(layer):
            moved.append((ident, False))
            continue
        order.append((ident, False))
        order.extend(moved)
        moved = []
        if not isinstance(layer, L.Activation) and own != "linear":
            (moved if before_max_pool and own in MONOTONE_ACTIVATIONS else order).append((ident, True))
    return tuple(order + moved)


class ArchNet(nn.Module):
    """The network of ``description``: input ``(N, C, H, W)`` float, output ``(N, classes)`` logits (a
    final ``softmax`` is left to the loss, as in the reference network).

    :attr:`order` is :meth:`forward`'s schedule (:func:`forward_order`): each monotone activation
    right before a max pool runs after it.
    """

    def __init__(self, description: Architecture) -> None:
        super().__init__()
        self.description = description
        self.activations = nn.ModuleDict()
        #: ``(module name, Keras layer name)`` in order
        self.names: tuple[tuple[str, str], ...] = tuple(
            (module_name(la.name), la.name) for la in description.layers
        )
        schedule = forward_order(description)
        # SELU may overwrite its input when no backward keeps that tensor: a layer's own fresh
        # output, or a MaxPooling2D's (its backward keeps indices); amax's backward keeps its output
        max_pools = self._max_pools(description)
        overwritable = {
            ident
            for (before, _), (ident, is_activation) in itertools.pairwise(schedule)
            if is_activation and (before == ident or before in max_pools)
        }
        for layer, shape in description.inputs():
            ident = module_name(layer.name)
            if hasattr(nn.Module, ident):
                raise layer.refuse(
                    f"its PyTorch name {ident!r} is an attribute every nn.Module has; rename it"
                )
            self.add_module(ident, layer_module(layer, shape))
            activation = getattr(layer, "activation", "linear")
            if not isinstance(layer, L.Activation) and activation != "linear":
                self.activations[ident] = (
                    SELU(inplace=True)
                    if activation == "selu" and ident in overwritable
                    else activation_module(activation)
                )
        #: :meth:`forward`'s schedule: ``(module name, is the layer's own activation)``
        self.order = tuple(step for step in schedule if not step[1] or step[0] in self.activations)

    @staticmethod
    def _max_pools(description: Architecture) -> frozenset[str]:
        """Module names of the ``MaxPooling2D`` layers."""
        return frozenset(module_name(la.name) for la in description.layers if isinstance(la, L.MaxPooling2D))

    def _step(self, ident: str, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, ident)(x)
        return self.activations[ident](x) if ident in self.activations else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for ident, is_activation in self.order:
            x = (self.activations[ident] if is_activation else getattr(self, ident))(x)
        return x

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's output after its activation, keyed by Keras layer name (NCHW when spatial)."""
        outputs: dict[str, torch.Tensor] = {}
        for ident, name in self.names:
            x = self._step(ident, x)
            outputs[name] = x
        return outputs


def build_torch(
    description: Architecture,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    initializer: Initializer = "glorot_uniform",
) -> ArchNet:
    """``ArchNet(description)`` in ``dtype``, kernels initialised by Keras' rule for ``initializer``
    (:func:`sepconv_torch.init.keras_init_`: Keras' fans, a depthwise kernel's included), biases zero,
    BatchNorm at gamma 1, beta 0, moving mean 0 and variance 1 as Keras; ``seed`` makes it repeatable."""
    if not isinstance(description, Architecture):
        raise ArchitectureError(f"build_torch needs an Architecture, received {type(description).__name__}")

    def build() -> ArchNet:
        net = ArchNet(description)
        keras_init_(net, initializer)
        return net.to(dtype)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
