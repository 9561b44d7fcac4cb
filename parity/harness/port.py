"""A :class:`Port`: one way of carrying the Keras model over to PyTorch, as the checks receive it.

A port is the PyTorch network to build and the mapping to fill it with (a
:class:`~parity.converter.mapping.TransformSet` applied to an architecture table).
The reference port is :data:`REFERENCE_PORT`; :mod:`parity.harness.broken` holds
deliberately wrong ones. Every check takes a Keras model and a port, so any pair
can be checked: the Keras model is the subject, the port says how PyTorch gets it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
from torch import nn

import sepconv_keras
import sepconv_torch
from parity.converter.convert import torch_copy
from parity.converter.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping
from parity.converter.transfer import transfer
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["REFERENCE_PORT", "Port"]


@dataclass(frozen=True)
class Port:
    """``build_torch()`` makes a float32 PyTorch network; ``spec`` and ``transforms`` give the mapping."""

    name: str
    description: str
    build_torch: Callable[[], nn.Module] = field(default=sepconv_torch.build_model, compare=False)
    transforms: TransformSet = DEFAULT_TRANSFORMS
    spec: Sequence[LayerSpec] = REFERENCE

    def rows(self) -> tuple[Row, ...]:
        """The mapping rows this port transfers weights with."""
        return build_mapping(self.spec, self.transforms)

    def torch_from(self, model: keras.Model) -> nn.Module:
        """A new PyTorch network of ``model``'s dtype holding its weights; may raise
        :class:`~parity.converter.errors.WeightMismatchError`."""
        return torch_copy(model, build=self.build_torch, rows=self.rows())

    def keras_from(self, net: nn.Module, dtype: str = "float32") -> keras.Model:
        """A new reference Keras model of ``dtype`` holding ``net``'s weights, through this port's mapping."""
        return transfer(net, sepconv_keras.build_model(self.spec, dtype=dtype), self.rows(), cast=True)


REFERENCE_PORT = Port("reference", "the PyTorch network of sepconv_torch with the spec-generated mapping")
