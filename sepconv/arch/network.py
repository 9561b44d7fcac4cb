"""A network description: a name, an input shape ``(H, W, C)`` and a chain of layers, checked as a whole.

:class:`Architecture` refuses, naming the first bad layer, what no layer can see alone: duplicate
names, names that collide once made into PyTorch identifiers, a layer whose input shape it cannot
take (a Dense on an ``(H, W, C)`` map, a window larger than its input), ``softmax`` anywhere but on
the last layer, and a network that does not end in ``(classes,)``.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sepconv.arch.errors import ArchitectureError
from sepconv.arch.layers import Activation, Layer, Shape

__all__ = ["Architecture", "module_name"]

#: attribute names an ``nn.Module`` child cannot take (they exist on every module)
_RESERVED = frozenset(
    {
        "training",
        "forward",
        "activations",
        "layers",
        "description",
        "names",
        "T_destination",
        "dump_patches",
        "call_super_init",
    }
)


def module_name(name: str) -> str:
    """A Keras layer name made into a Python identifier for a PyTorch module and its state-dict keys.

    Characters outside ``[A-Za-z0-9_]`` become ``_``; a leading digit, a keyword or a name every
    ``nn.Module`` already has gets a trailing/leading ``_`` (``conv1`` stays ``conv1``,
    ``block-1.conv`` becomes ``block_1_conv``, ``2d`` becomes ``_2d``).
    """
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if ident[0].isdigit():
        ident = "_" + ident
    if keyword.iskeyword(ident) or ident in _RESERVED or (ident.startswith("_") and ident.strip("_") == ""):
        ident += "_"
    return ident


def _activation_of(layer: Layer) -> str:
    return str(getattr(layer, "activation", "linear"))


@dataclass(frozen=True)
class Architecture:
    """A chain network: ``input_shape`` ``(H, W, C)`` (channels-last, as Keras), then ``layers`` in order.

    ``shapes[name]`` is each layer's output shape (``(H, W, C)`` or ``(F,)``); the network's output is
    ``(classes,)``. A ``softmax`` may only be the last layer's activation (PyTorch returns logits).
    """

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[Layer, ...]
    shapes: dict[str, Shape] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        shape = self.input_shape
        if (
            not isinstance(shape, list | tuple)
            or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
        ):
            raise ArchitectureError(
                f"network {self.name!r}: input_shape must be (H, W, C) of positive integers, "
                f"received input_shape={shape!r}"
            )
        object.__setattr__(self, "input_shape", tuple(shape))
        if not self.layers:
            raise ArchitectureError(f"network {self.name!r}: has no layers")
        object.__setattr__(self, "shapes", self._infer_shapes())

    def _infer_shapes(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        identifiers: dict[str, str] = {}
        shape: Shape = self.input_shape
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ArchitectureError(
                    f"network {self.name!r}: layer {i} is not a layer, received {layer!r}"
                )
            if layer.name in shapes:
                raise layer.refuse("a second layer with this name (layer names must be unique)")
            ident = module_name(layer.name)
            if ident in identifiers:
                raise layer.refuse(
                    f"its PyTorch name {ident!r} is also the PyTorch name of layer {identifiers[ident]!r}"
                )
            identifiers[ident] = layer.name
            last = i == len(self.layers) - 1
            if _activation_of(layer) == "softmax" and not last:
                raise layer.refuse("softmax is supported on the last layer only (PyTorch returns logits)")
            shape = layer.output_shape(shape)
            if any(v <= 0 for v in shape):
                raise layer.refuse(f"its output shape {shape} is empty")
            shapes[layer.name] = shape
        if len(shape) != 1:
            raise self.layers[-1].refuse(
                f"the network must end in (classes,), this last layer gives {shape} (add a Flatten or a "
                "global pooling, then a Dense)"
            )
        return shapes

    @property
    def classes(self) -> int:
        """Number of outputs of the last layer."""
        return self.shapes[self.layers[-1].name][0]

    def input_of(self, name: str) -> Shape:
        """The shape entering layer ``name``."""
        previous: Shape = self.input_shape
        for layer in self.layers:
            if layer.name == name:
                return previous
            previous = self.shapes[layer.name]
        raise KeyError(f"no layer named {name!r} in network {self.name!r}")

    def inputs(self) -> list[tuple[Layer, Shape]]:
        """``(layer, input shape)`` for every layer, in order."""
        shapes = [self.input_shape, *(self.shapes[layer.name] for layer in self.layers)]
        return list(zip(self.layers, shapes, strict=False))

    def param_counts(self) -> dict[str, int]:
        """Keras' ``count_params()`` of every layer holding weights (BatchNormalization's moving mean and
        variance included, as Keras counts them), in order."""
        return {
            layer.name: sum(math.prod(shape) for _, shape, _ in layer.weights(fin))
            for layer, fin in self.inputs()
            if layer.weights(fin)
        }

    def trainable_counts(self) -> dict[str, int]:
        """Trainable parameters of every layer holding some, in order."""
        counts = {
            layer.name: sum(math.prod(shape) for _, shape, trainable in layer.weights(fin) if trainable)
            for layer, fin in self.inputs()
        }
        return {name: n for name, n in counts.items() if n}

    def count_params(self) -> int:
        """All parameters, as Keras' ``model.count_params()``."""
        return sum(self.param_counts().values())

    def summary(self) -> str:
        """A table in the manner of Keras' ``model.summary()``: each layer's name, class, output shape
        (channels-last) and parameter count, then the total."""
        counts = self.param_counts()
        rows = [("layer", "class", "output shape", "params")]
        rows += [
            (layer.name, type(layer).__name__, str(self.shapes[layer.name]), f"{counts.get(layer.name, 0):,}")
            for layer in self.layers
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(
                [
                    row[0].ljust(widths[0]),
                    row[1].ljust(widths[1]),
                    row[2].ljust(widths[2]),
                    row[3].rjust(widths[3]),
                ]
            )
            for row in rows
        ]
        lines.append(f"{self.name}: input {self.input_shape}, {self.count_params():,} parameters")
        return "\n".join(lines)

    def ends_in_softmax(self) -> bool:
        """Whether Keras' output is probabilities (the last layer's activation is softmax)."""
        last = self.layers[-1]
        return _activation_of(last) == "softmax" or (
            isinstance(last, Activation) and last.activation == "softmax"
        )


def chain(name: str, input_shape: Sequence[int], layers: Sequence[Layer]) -> Architecture:
    """An :class:`Architecture` from any sequences (Python convenience)."""
    return Architecture(name, tuple(input_shape), tuple(layers))  # type: ignore[arg-type]
