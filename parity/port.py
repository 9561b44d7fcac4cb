"""A :class:`Port`: one way of carrying the Keras model over to PyTorch, as the checks receive it.

A port is the PyTorch network to build and the mapping to fill it with (a
:class:`~parity.mapping.TransformSet` applied to an architecture table). The
reference port is :data:`REFERENCE_PORT`; :mod:`parity.broken` holds deliberately
wrong ones. Every check takes a Keras model and a port, so any pair can be
checked: the Keras model is the subject, the port says how PyTorch gets it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
from torch import nn

import sepconv_keras
import sepconv_torch
from parity.convert import keras_to_torch, torch_to_keras
from parity.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["REFERENCE_PORT", "Port", "keras_dtype"]


def keras_dtype(model: keras.Model) -> str:
    """``float64`` if the model's weights are float64, else ``float32``."""
    return "float64" if any(str(v.dtype) == "float64" for v in model.weights) else "float32"


@dataclass(frozen=True)
class Port:
    """``build_torch()`` makes a float32 PyTorch network; the mapping comes from ``spec`` and ``transforms``."""

    name: str
    description: str
    build_torch: Callable[[], nn.Module] = field(default=sepconv_torch.build_model, compare=False)
    transforms: TransformSet = DEFAULT_TRANSFORMS
    spec: Sequence[LayerSpec] = REFERENCE

    def rows(self) -> tuple[Row, ...]:
        """The mapping rows this port transfers weights with."""
        return build_mapping(self.spec, self.transforms)

    def torch_from(self, model: keras.Model) -> nn.Module:
        """A new PyTorch network (float64 if ``model`` is) holding ``model``'s weights; may raise
        :class:`~parity.errors.WeightMismatchError`."""
        net = self.build_torch()
        if keras_dtype(model) == "float64":
            net = net.double()
        return keras_to_torch(model, net, rows=self.rows())

    def keras_from(self, net: nn.Module, dtype: str = "float32") -> keras.Model:
        """A new reference Keras model of ``dtype`` holding ``net``'s weights, through this port's mapping."""
        return torch_to_keras(net, sepconv_keras.build_model(self.spec, dtype=dtype), rows=self.rows())


REFERENCE_PORT = Port("reference", "the PyTorch network of sepconv_torch with the spec-generated mapping")
