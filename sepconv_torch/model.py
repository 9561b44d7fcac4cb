"""The PyTorch port, built by looping over the shared architecture table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sepconv.init import Initializer
from sepconv.spec import INPUT_SHAPE, REFERENCE, LayerSpec, input_features, validate_spec
from sepconv_torch.blocks import SeparableConv2d
from sepconv_torch.conv import Conv2d
from sepconv_torch.flatten import Flatten
from sepconv_torch.init import keras_init_
from sepconv_torch.selu import SELU

__all__ = ["SepConvNet", "build_model"]

# In place: the activation overwrites its layer's output, which no backward needs; autograd then
# differentiates SELU from its output (no exp in the backward) and keeps one tensor less per layer.
# SELU is ours, not nn.SELU: nn.SELU's float32 expm1 is several times slower on some AVX-512 hosts (selu.py).
_ACTIVATIONS: dict[str, Callable[[bool], nn.Module]] = {
    "selu": lambda precise: SELU(inplace=True, precise=precise),
    "elu": lambda precise: nn.ELU(inplace=True),
    "relu": lambda precise: nn.ReLU(inplace=True),
}
# Monotone non-decreasing activations commute with max pooling: pool(act(x)) == act(pool(x)). ``forward``
# applies these after the pool that follows their layer, on a quarter of the elements. A new activation
# joins this set only if it never decreases (GELU and SiLU do, below zero).
_COMMUTES_WITH_MAXPOOL = frozenset({"selu", "elu", "relu"})


def _make_layer(layer: LayerSpec, in_features: int, split_backward: bool) -> nn.Module:
    if layer.kind == "conv":
        return Conv2d(
            in_features, layer.filters, layer.kernel, padding=layer.padding, split_backward=split_backward
        )
    if layer.kind == "sepconv":
        return SeparableConv2d(in_features, layer.filters, layer.kernel, layer.padding, split_backward)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel)  # floor rounding, as Keras: 7x7 -> 3x3
    if layer.kind == "flatten":
        return Flatten()  # (N, C, H, W) -> (N, C*H*W), i.e. (c, h, w) order
    return nn.Linear(in_features, layer.filters)


def _make_activation(layer: LayerSpec, is_last: bool, precise_selu: bool) -> nn.Module:
    if layer.activation is None or (is_last and layer.activation == "softmax"):
        return nn.Identity()  # the PyTorch model returns logits
    if layer.activation not in _ACTIVATIONS:
        raise ValueError(
            f"layer {layer.name!r}: activation must be one of {sorted(_ACTIVATIONS)} "
            f"(or softmax on the last layer), received {layer.activation!r}"
        )
    return _ACTIVATIONS[layer.activation](precise_selu)


class SepConvNet(nn.Module):
    """The separable CNN. Input ``(N, 1, 28, 28)`` float, output ``(N, 10)`` logits.

    Children are named after the spec (``conv1``, ``sepconv1``, ..., ``pool3``,
    ``flatten``, ``dense1``, ``dense2``); each layer's activation lives in
    ``activations[name]`` so a layer's output (as Keras reports it) is
    ``activations[name](layer(x))``. ``precise_selu`` picks the correctly rounded SELU over
    TensorFlow's float32 formula (:mod:`sepconv_torch.selu`).

    With ``pool_before_activation`` (the default), :meth:`forward` applies the activation of a layer
    that a max pool follows after that pool: the activations are monotone, so the result is the same
    (pooling picks the same maximum) for a quarter of the activation's work, forward and backward.
    :meth:`forward_layers` always runs the spec's literal order, since it reports every layer's output.

    With ``split_conv_backward`` (the default) every convolution is a :class:`sepconv_torch.conv.Conv2d`
    whose CPU backward is three ATen calls instead of oneDNN's one (faster here, the same gradients up
    to summation order); ``False`` keeps PyTorch's backward.
    """

    def __init__(
        self,
        spec: Sequence[LayerSpec] = REFERENCE,
        input_shape: tuple[int, int, int] = INPUT_SHAPE,
        initializer: Initializer = "glorot_uniform",
        precise_selu: bool = False,
        pool_before_activation: bool = True,
        split_conv_backward: bool = True,
    ) -> None:
        super().__init__()
        validate_spec(spec)
        self.spec = tuple(spec)
        self.input_shape = input_shape  # (H, W, C), as in the spec
        self.activations = nn.ModuleDict()
        for i, layer in enumerate(self.spec):
            features = input_features(self.spec, layer.name, input_shape)
            self.add_module(layer.name, _make_layer(layer, features, split_conv_backward))
            self.activations[layer.name] = _make_activation(layer, i == len(self.spec) - 1, precise_selu)
        keras_init_(self, initializer)
        self.pool_before_activation = pool_before_activation
        self.split_conv_backward = split_conv_backward
        #: ``forward``'s schedule: ``(name, is_activation)``, a layer or its activation, in run order
        self.order = _forward_order(self.spec, pool_before_activation)

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's output after its activation, keyed by layer name (NCHW for spatial layers)."""
        outputs: dict[str, torch.Tensor] = {}
        for layer in self.spec:
            x = self.activations[layer.name](getattr(self, layer.name)(x))
            outputs[layer.name] = x
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, is_activation in self.order:
            x = (self.activations[name] if is_activation else getattr(self, name))(x)
        return x


def _moves_past_pool(layer: LayerSpec | None, following: LayerSpec | None) -> bool:
    """Whether ``layer``'s activation runs after ``following``, the max pool right after it."""
    return (
        layer is not None
        and following is not None
        and following.kind == "maxpool"
        and layer.activation in _COMMUTES_WITH_MAXPOOL
    )


def _forward_order(spec: Sequence[LayerSpec], pool_before_activation: bool) -> tuple[tuple[str, bool], ...]:
    """Layers and activations in the order ``forward`` runs them (see :class:`SepConvNet`).

    An activation moves past the max pool right after its layer when it commutes with it; the pool's
    own activation (none in the reference) still runs after the moved one.
    """
    layers = list(spec)
    order: list[tuple[str, bool]] = []
    for previous, layer, following in zip([None, *layers[:-1]], layers, [*layers[1:], None], strict=True):
        order.append((layer.name, False))
        if pool_before_activation and _moves_past_pool(previous, layer):
            order.append((previous.name, True))
        if not (pool_before_activation and _moves_past_pool(layer, following)):
            order.append((layer.name, True))
    return tuple(order)


def build_model(
    spec: Sequence[LayerSpec] = REFERENCE,
    initializer: Initializer = "glorot_uniform",
    seed: int | None = None,
    precise_selu: bool = False,
    pool_before_activation: bool = True,
    split_conv_backward: bool = True,
) -> SepConvNet:
    """The reference network as a PyTorch module (logits out); ``seed`` makes the init repeatable."""

    def build() -> SepConvNet:
        return SepConvNet(
            spec,
            initializer=initializer,
            precise_selu=precise_selu,
            pool_before_activation=pool_before_activation,
            split_conv_backward=split_conv_backward,
        )

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
