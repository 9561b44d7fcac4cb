"""The public entry points ``keras_to_torch`` / ``torch_to_keras``, and the one re-typing helper.

Both entry points take a model, a state dict or the path of a weight file; a
missing target is built from the architecture table (:func:`keras_copy`,
:func:`torch_copy`) in the source's dtype.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import torch
from torch import nn

import sepconv_keras
import sepconv_torch
from parity.converter.dtypes import model_dtype
from parity.converter.files import load_weights_file
from parity.converter.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping
from parity.converter.stored import StoredKerasModel
from parity.converter.transfer import Model, framework_of, transfer
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["keras_copy", "keras_to_torch", "torch_copy", "torch_to_keras"]

PathLike = str | os.PathLike[str]


def _rows(spec: Sequence[LayerSpec], transforms: TransformSet, rows: Sequence[Row] | None) -> Sequence[Row]:
    return rows if rows is not None else build_mapping(spec, transforms)


def keras_copy(
    src: Model,
    dtype: str | None = None,
    spec: Sequence[LayerSpec] = REFERENCE,
    rows: Sequence[Row] | None = None,
) -> keras.Model:
    """A new reference Keras model of ``dtype`` (default: ``src``'s) holding ``src``'s weights.

    ``src`` is either framework; a ``dtype`` other than ``src``'s casts every weight.
    """
    target = dtype or model_dtype(src)
    model = sepconv_keras.build_model(spec, dtype=target)
    return transfer(src, model, _rows(spec, DEFAULT_TRANSFORMS, rows), cast=dtype is not None)


def torch_copy(
    src: Model,
    dtype: str | None = None,
    build: Callable[[], nn.Module] | None = None,
    rows: Sequence[Row] | None = None,
) -> nn.Module:
    """A new PyTorch network from ``build()`` (default: the reference ``SepConvNet``) of ``dtype`` (default:
    ``src``'s) holding ``src``'s weights; a ``dtype`` other than ``src``'s casts every weight."""
    target = dtype or model_dtype(src)
    net = (build or sepconv_torch.build_model)()
    net = net.double() if target == "float64" else net.float()
    return transfer(src, net, _rows(REFERENCE, DEFAULT_TRANSFORMS, rows), cast=dtype is not None)


def _source(src: Any, framework: str, caller: str) -> Any:
    """``src`` itself, or the model read from a path; ``TypeError`` for the other framework or other types."""
    accepted = {
        "keras": "a keras.Model or the path of a Keras weight file (.keras, .h5, .weights.h5)",
        "torch": "a torch.nn.Module, a state dict or the path of a PyTorch weight file",
    }[framework]
    if isinstance(src, str | os.PathLike):
        loaded = load_weights_file(src)
        if framework_of(loaded) != framework:
            raise TypeError(f"{caller}: {src} holds {framework_of(loaded)} weights; it needs {accepted}")
        return loaded
    ok = (
        isinstance(src, keras.Model | StoredKerasModel)
        if framework == "keras"
        else isinstance(src, nn.Module)
        or (isinstance(src, Mapping) and all(isinstance(v, torch.Tensor) for v in src.values()))
    )
    if not ok:
        raise TypeError(f"{caller}: expected {accepted}, received {type(src).__name__}")
    return src


def keras_to_torch(
    src: keras.Model | StoredKerasModel | PathLike,
    dst: nn.Module | None = None,
    *,
    spec: Sequence[LayerSpec] = REFERENCE,
    transforms: TransformSet = DEFAULT_TRANSFORMS,
    rows: Sequence[Row] | None = None,
    cast: bool = False,
) -> nn.Module:
    """Copy a Keras model's weights (or a Keras weight file's, given its path) into ``dst`` (a SepConvNet, a
    LightningModule holding one as ``net``, or any structurally equal network); ``None`` builds
    :func:`sepconv_torch.build_model` in the source's dtype. ``cast`` allows a different target dtype."""
    src = _source(src, "keras", "keras_to_torch")
    rows = _rows(spec, transforms, rows)
    if dst is None:
        return torch_copy(src, build=lambda: sepconv_torch.build_model(spec), rows=rows)
    return transfer(src, dst, rows, cast=cast)


def torch_to_keras(
    src: nn.Module | Mapping[str, torch.Tensor] | PathLike,
    dst: keras.Model | None = None,
    *,
    spec: Sequence[LayerSpec] = REFERENCE,
    transforms: TransformSet = DEFAULT_TRANSFORMS,
    rows: Sequence[Row] | None = None,
    cast: bool = False,
) -> keras.Model:
    """Copy a PyTorch network's weights (a module, LightningModule, state dict with or without ``net.``
    prefix, or a PyTorch weight file's path) into ``dst``; ``None`` builds :func:`sepconv_keras.build_model`
    in the source's dtype. ``cast`` allows a different target dtype."""
    src = _source(src, "torch", "torch_to_keras")
    rows = _rows(spec, transforms, rows)
    if dst is None:
        return keras_copy(src, spec=spec, rows=rows)
    return transfer(src, dst, rows, cast=cast)
