"""The layer kinds of the family, one frozen dataclass each, with Keras' own argument names and defaults.

A layer is checked when it is made: a bad argument raises :class:`ArchitectureError` naming the layer,
its class and the argument (``layer 'conv1' (Conv2D): filters must be a positive integer, received
filters=0``). Each kind also states, for a given input shape (channels-last ``(H, W, C)`` or ``(F,)``),
its output shape (:meth:`Layer.output_shape`) and its Keras weights in Keras' order with their Keras
shapes (:meth:`Layer.weights`), which give the parameter counts and the weight mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from sepconv.arch.errors import ArchitectureError

__all__ = [
    "ACTIVATIONS",
    "LAYER_CLASSES",
    "Activation",
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
    "Shape",
    "SpatialDropout2D",
    "Weight",
    "ZeroPadding2D",
]

#: a tensor's shape without the batch axis: ``(H, W, C)`` (channels-last, as Keras) or ``(F,)``
Shape = tuple[int, ...]
#: ``(Keras weight name, Keras shape, trainable)``
Weight = tuple[str, tuple[int, ...], bool]

#: activation names (Keras' strings; ``gelu_tanh`` is GELU with ``approximate=True``, which Keras has no
#: string for; ``swish`` is Keras' other name for ``silu``, stored as ``silu``); ``softmax`` only last
ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "selu",
    "elu",
    "leaky_relu",
    "gelu",
    "gelu_tanh",
    "silu",
    "swish",
    "sigmoid",
    "tanh",
    "softmax",
)
_PADDINGS = ("same", "valid")


def _pair(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 2:
        return tuple(value)
    return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Layer:
    """One layer: its Keras name and (in subclasses) Keras' arguments."""

    name: str
    #: arguments given as an int or a pair, stored as a pair
    _PAIRS: ClassVar[tuple[str, ...]] = ()
    #: the Keras class names that read as this kind (``MaxPool2D`` for ``MaxPooling2D``, ...)
    ALIASES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ArchitectureError(
                f"a {type(self).__name__} layer: name must be a non-empty string without '/', "
                f"received name={self.name!r}"
            )
        for key in self._PAIRS:
            object.__setattr__(self, key, _pair(getattr(self, key)))
        self.check()

    @property
    def where(self) -> str:
        return f"layer {self.name!r} ({type(self).__name__})"

    def refuse(self, message: str) -> ArchitectureError:
        """The error naming this layer: ``layer 'x' (Class): message``."""
        return ArchitectureError(f"{self.where}: {message}")

    def arguments(self) -> dict[str, Any]:
        """Keras' arguments of this layer (``name`` included), as stored."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check(self) -> None:
        """Refuse a bad argument (subclasses)."""

    def output_shape(self, shape: Shape) -> Shape:
        """The output shape for input ``shape``; by default the input's."""
        return shape

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        """The Keras weights for input ``shape``, in Keras' order; none by default."""
        return ()

    # ---- helpers for subclasses -----------------------------------------------------------------

    def _positive_ints(self, *keys: str) -> None:
        for key in keys:
            value = getattr(self, key)
            pair = key in self._PAIRS
            items = value if pair and isinstance(value, tuple) and len(value) == 2 else (value,)
            if not all(_is_int(v) and v > 0 for v in items):
                raise self.refuse(
                    f"{key} must be a positive integer{' or a pair of them' if pair else ''}, "
                    f"received {key}={value!r}"
                )

    def _choice(self, key: str, choices: Sequence[Any]) -> None:
        value = getattr(self, key)
        if value not in choices:
            raise self.refuse(f"{key} must be one of {tuple(choices)}, received {key}={value!r}")

    def _rate(self, key: str = "rate") -> None:
        value = getattr(self, key)
        if not _is_number(value) or not 0 <= value < 1:
            raise self.refuse(f"{key} must be a number in [0, 1), received {key}={value!r}")

    def _spatial(self, shape: Shape) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise self.refuse(f"needs an (H, W, C) input, received a {_show(shape)} input")
        return shape[0], shape[1], shape[2]


def _show(shape: Shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _window(layer: Layer, size: int, kernel: int, stride: int, padding: str, axis: str) -> int:
    """Output length of a window sliding along one axis (TensorFlow's rule)."""
    if padding == "same":
        return -(-size // stride)
    if kernel > size:
        raise layer.refuse(
            f"a window of {kernel} does not fit the input's {axis} of {size} with padding='valid'"
        )
    return (size - kernel) // stride + 1


def _windowed(
    layer: Layer, shape: Shape, kernel: tuple[int, int], strides: tuple[int, int], padding: str
) -> Shape:
    h, w, c = layer._spatial(shape)
    return (
        _window(layer, h, kernel[0], strides[0], padding, "height"),
        _window(layer, w, kernel[1], strides[1], padding, "width"),
        c,
    )


def _equal_strides(layer: Layer) -> None:
    """TensorFlow's depthwise convolution runs only with the same stride along height and width."""
    strides = layer.strides  # type: ignore[attr-defined]
    if strides[0] != strides[1]:
        raise layer.refuse(
            f"strides must be the same along height and width (TensorFlow's depthwise convolution "
            f"supports no other), received strides={strides}"
        )


@dataclass(frozen=True)
class _Activated(Layer):
    """A layer with an ``activation`` argument (``linear``: none)."""

    def check(self) -> None:
        self._choice("activation", ACTIVATIONS)
        if self.activation == "swish":  # type: ignore[attr-defined]
            object.__setattr__(self, "activation", "silu")  # Keras' own name for it, as it saves it


@dataclass(frozen=True)
class _Conv(_Activated):
    def check(self) -> None:
        super().check()
        self._positive_ints("kernel_size", "strides")
        self._choice("padding", _PADDINGS)
        if not isinstance(self.use_bias, bool):  # type: ignore[attr-defined]
            raise self.refuse(f"use_bias must be true or false, received use_bias={self.use_bias!r}")  # type: ignore[attr-defined]

    def output_shape(self, shape: Shape) -> Shape:
        h, w, _ = _windowed(self, shape, self.kernel_size, self.strides, self.padding)  # type: ignore[attr-defined]
        return h, w, self.out_channels(shape[-1])

    def out_channels(self, in_channels: int) -> int:
        return self.filters  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Conv2D(_Conv):
    """``keras.layers.Conv2D``: kernel ``(kh, kw, in, filters)``, bias ``(filters,)``."""

    filters: int = 0
    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    activation: str = "linear"
    use_bias: bool = True
    _PAIRS: ClassVar[tuple[str, ...]] = ("kernel_size", "strides")
    ALIASES: ClassVar[tuple[str, ...]] = ("Convolution2D",)

    def check(self) -> None:
        self._positive_ints("filters")
        super().check()

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        kernel = ("kernel", (*self.kernel_size, shape[-1], self.filters), True)
        return (kernel, ("bias", (self.filters,), True)) if self.use_bias else (kernel,)


@dataclass(frozen=True)
class SeparableConv2D(_Conv):
    """``keras.layers.SeparableConv2D``: depthwise ``(kh, kw, in, depth_multiplier)`` at ``strides``, then
    pointwise ``(1, 1, in * depth_multiplier, filters)``, bias ``(filters,)``."""

    filters: int = 0
    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str = "linear"
    use_bias: bool = True
    _PAIRS: ClassVar[tuple[str, ...]] = ("kernel_size", "strides")
    ALIASES: ClassVar[tuple[str, ...]] = ("SeparableConvolution2D",)

    def check(self) -> None:
        self._positive_ints("filters", "depth_multiplier")
        super().check()
        _equal_strides(self)

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        c, dm = shape[-1], self.depth_multiplier
        found: tuple[Weight, ...] = (
            ("depthwise_kernel", (*self.kernel_size, c, dm), True),
            ("pointwise_kernel", (1, 1, c * dm, self.filters), True),
        )
        return (*found, ("bias", (self.filters,), True)) if self.use_bias else found


@dataclass(frozen=True)
class DepthwiseConv2D(_Conv):
    """``keras.layers.DepthwiseConv2D``: kernel ``(kh, kw, C, depth_multiplier)``; output channel
    ``c * depth_multiplier + k`` is input channel ``c`` through kernel ``[:, :, c, k]``."""

    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    depth_multiplier: int = 1
    activation: str = "linear"
    use_bias: bool = True
    _PAIRS: ClassVar[tuple[str, ...]] = ("kernel_size", "strides")

    def check(self) -> None:
        self._positive_ints("depth_multiplier")
        super().check()
        _equal_strides(self)

    def out_channels(self, in_channels: int) -> int:
        return in_channels * self.depth_multiplier

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        c, dm = shape[-1], self.depth_multiplier
        kernel = ("kernel", (*self.kernel_size, c, dm), True)
        return (kernel, ("bias", (c * dm,), True)) if self.use_bias else (kernel,)


@dataclass(frozen=True)
class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization`` over the channel (last) axis: ``gamma``, ``beta`` (if ``scale`` /
    ``center``), ``moving_mean``, ``moving_variance``, each ``(C,)``; moving averages
    ``m * momentum + batch * (1 - momentum)`` with the biased batch variance."""

    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 1e-3
    center: bool = True
    scale: bool = True

    def check(self) -> None:
        if not _is_number(self.momentum) or not 0 <= self.momentum <= 1:
            raise self.refuse(f"momentum must be a number in [0, 1], received momentum={self.momentum!r}")
        if not _is_number(self.epsilon) or self.epsilon <= 0:
            raise self.refuse(f"epsilon must be a positive number, received epsilon={self.epsilon!r}")
        for key in ("center", "scale"):
            if not isinstance(getattr(self, key), bool):
                raise self.refuse(f"{key} must be true or false, received {key}={getattr(self, key)!r}")
        if not _is_int(self.axis):
            raise self.refuse(f"axis must be an integer (the channel axis, -1), received axis={self.axis!r}")

    def output_shape(self, shape: Shape) -> Shape:
        if self.axis not in (-1, len(shape)):
            raise self.refuse(
                f"axis must be the channel axis (-1 or {len(shape)} for a {_show(shape)} input; "
                f"channels_first is not supported), received axis={self.axis}"
            )
        return shape

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        c = (shape[-1],)
        affine = (("gamma", c, True),) if self.scale else ()
        affine += (("beta", c, True),) if self.center else ()
        return (*affine, ("moving_mean", c, False), ("moving_variance", c, False))


@dataclass(frozen=True)
class Activation(_Activated):
    """``keras.layers.Activation``: an activation as its own layer."""

    activation: str = "linear"


@dataclass(frozen=True)
class ReLU(Layer):
    """``keras.layers.ReLU``: ``x`` above ``threshold`` (capped at ``max_value``), else
    ``negative_slope * (x - threshold)``."""

    max_value: float | None = None
    negative_slope: float = 0.0
    threshold: float = 0.0

    def check(self) -> None:
        if self.max_value is not None and (not _is_number(self.max_value) or self.max_value < 0):
            raise self.refuse(
                f"max_value must be null or a number >= 0, received max_value={self.max_value!r}"
            )
        for key in ("negative_slope", "threshold"):
            value = getattr(self, key)
            if not _is_number(value) or value < 0:
                raise self.refuse(f"{key} must be a number >= 0, received {key}={value!r}")


@dataclass(frozen=True)
class LeakyReLU(Layer):
    """``keras.layers.LeakyReLU``: ``x`` if ``x >= 0`` else ``negative_slope * x`` (Keras' default 0.3)."""

    negative_slope: float = 0.3

    def check(self) -> None:
        if not _is_number(self.negative_slope) or self.negative_slope < 0:
            raise self.refuse(
                f"negative_slope must be a number >= 0, received negative_slope={self.negative_slope!r}"
            )


@dataclass(frozen=True)
class _Pooling(Layer):
    pool_size: tuple[int, int] = (2, 2)
    strides: tuple[int, int] | None = None
    padding: str = "valid"
    _PAIRS: ClassVar[tuple[str, ...]] = ("pool_size", "strides")

    def check(self) -> None:
        if self.strides is None:
            object.__setattr__(self, "strides", self.pool_size)
        self._positive_ints("pool_size", "strides")
        self._choice("padding", _PADDINGS)

    def output_shape(self, shape: Shape) -> Shape:
        return _windowed(self, shape, self.pool_size, self.strides, self.padding)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MaxPooling2D(_Pooling):
    """``keras.layers.MaxPooling2D``; ``strides`` defaults to ``pool_size``."""

    ALIASES: ClassVar[tuple[str, ...]] = ("MaxPool2D",)


@dataclass(frozen=True)
class AveragePooling2D(_Pooling):
    """``keras.layers.AveragePooling2D``; with ``same`` padding a window averages only the input it covers."""

    ALIASES: ClassVar[tuple[str, ...]] = ("AvgPool2D",)


@dataclass(frozen=True)
class _GlobalPooling(Layer):
    keepdims: bool = False

    def check(self) -> None:
        if not isinstance(self.keepdims, bool):
            raise self.refuse(f"keepdims must be true or false, received keepdims={self.keepdims!r}")

    def output_shape(self, shape: Shape) -> Shape:
        c = self._spatial(shape)[2]
        return (1, 1, c) if self.keepdims else (c,)


@dataclass(frozen=True)
class GlobalAveragePooling2D(_GlobalPooling):
    """``keras.layers.GlobalAveragePooling2D``: ``(H, W, C)`` -> ``(C,)``, ``(1, 1, C)`` with ``keepdims``."""

    ALIASES: ClassVar[tuple[str, ...]] = ("GlobalAvgPool2D",)


@dataclass(frozen=True)
class GlobalMaxPooling2D(_GlobalPooling):
    """``keras.layers.GlobalMaxPooling2D``: ``(H, W, C)`` -> ``(C,)`` (``(1, 1, C)`` with ``keepdims``)."""

    ALIASES: ClassVar[tuple[str, ...]] = ("GlobalMaxPool2D",)


def _padding_pairs(p: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``p``, ``(h, w)`` or ``((top, bottom), (left, right))`` as the last form; ``None`` if none of them."""
    if _is_int(p):
        return (p, p), (p, p)
    if isinstance(p, list | tuple) and len(p) == 2:
        if all(_is_int(v) for v in p):
            return (p[0], p[0]), (p[1], p[1])
        if all(isinstance(v, list | tuple) and len(v) == 2 and all(_is_int(x) for x in v) for v in p):
            return (p[0][0], p[0][1]), (p[1][0], p[1][1])
    return None


@dataclass(frozen=True)
class ZeroPadding2D(Layer):
    """``keras.layers.ZeroPadding2D``; ``padding`` is stored as ``((top, bottom), (left, right))``."""

    padding: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1))

    def check(self) -> None:
        pairs = _padding_pairs(self.padding)
        if pairs is None or any(v < 0 for pair in pairs for v in pair):
            raise self.refuse(
                "padding must be an integer >= 0, a pair, or ((top, bottom), (left, right)), "
                f"received padding={self.padding!r}"
            )
        object.__setattr__(self, "padding", pairs)

    def output_shape(self, shape: Shape) -> Shape:
        h, w, c = self._spatial(shape)
        (top, bottom), (left, right) = self.padding
        return h + top + bottom, w + left + right, c


@dataclass(frozen=True)
class Dropout(Layer):
    """``keras.layers.Dropout``: the identity at inference."""

    rate: float = 0.5

    def check(self) -> None:
        self._rate()


@dataclass(frozen=True)
class SpatialDropout2D(Layer):
    """``keras.layers.SpatialDropout2D``: drops whole channels; the identity at inference."""

    rate: float = 0.5

    def check(self) -> None:
        self._rate()

    def output_shape(self, shape: Shape) -> Shape:
        return self._spatial(shape)


@dataclass(frozen=True)
class Flatten(Layer):
    """``keras.layers.Flatten``: ``(H, W, C)`` -> ``(H*W*C,)`` in ``(h, w, c)`` order."""

    def output_shape(self, shape: Shape) -> Shape:
        return (math.prod(shape),)


@dataclass(frozen=True)
class Reshape(Layer):
    """``keras.layers.Reshape`` to ``(F,)`` or ``(H, W, C)`` (one ``-1`` allowed), elements in Keras'
    channels-last order."""

    target_shape: tuple[int, ...] = ()

    def check(self) -> None:
        t = self.target_shape
        t = tuple(t) if isinstance(t, list | tuple) else t
        if (
            not isinstance(t, tuple)
            or len(t) not in (1, 3)
            or not all(_is_int(v) and (v > 0 or v == -1) for v in t)
            or t.count(-1) > 1
        ):
            raise self.refuse(
                f"target_shape must be (F,) or (H, W, C) of positive integers (one may be -1), "
                f"received target_shape={self.target_shape!r}"
            )
        object.__setattr__(self, "target_shape", t)

    def output_shape(self, shape: Shape) -> Shape:
        size, known = math.prod(shape), math.prod(v for v in self.target_shape if v != -1)
        resolved = tuple(size // known if v == -1 else v for v in self.target_shape)
        if math.prod(resolved) != size:
            raise self.refuse(f"cannot reshape a {_show(shape)} input to target_shape={self.target_shape}")
        return resolved


@dataclass(frozen=True)
class Dense(_Activated):
    """``keras.layers.Dense`` on ``(F,)`` features: kernel ``(F, units)``, bias ``(units,)``."""

    units: int = 0
    activation: str = "linear"
    use_bias: bool = True

    def check(self) -> None:
        self._positive_ints("units")
        super().check()
        if not isinstance(self.use_bias, bool):
            raise self.refuse(f"use_bias must be true or false, received use_bias={self.use_bias!r}")

    def output_shape(self, shape: Shape) -> Shape:
        if len(shape) != 1:
            raise self.refuse(
                f"needs an (F,) input (put a Flatten before it), received a {_show(shape)} input"
            )
        return (self.units,)

    def weights(self, shape: Shape) -> tuple[Weight, ...]:
        kernel = ("kernel", (shape[0], self.units), True)
        return (kernel, ("bias", (self.units,), True)) if self.use_bias else (kernel,)


#: Keras class name (and aliases) -> layer kind
LAYER_CLASSES: dict[str, type[Layer]] = {
    alias: cls
    for cls in (
        Conv2D,
        SeparableConv2D,
        DepthwiseConv2D,
        BatchNormalization,
        Activation,
        ReLU,
        LeakyReLU,
        MaxPooling2D,
        AveragePooling2D,
        GlobalAveragePooling2D,
        GlobalMaxPooling2D,
        ZeroPadding2D,
        Dropout,
        SpatialDropout2D,
        Flatten,
        Reshape,
        Dense,
    )
    for alias in (cls.__name__, *cls.ALIASES)
}
