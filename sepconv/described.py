"""A network description for training: read from a file or from stored data, and checked to fit the data.

``--model.architecture`` (``sepconv-torch``) and ``--architecture`` (``sepconv-keras``) take a YAML
description (``.yaml``/``.yml``, or a shipped name: ``reference``, ``standard``,
``mobilenet_v1_025_32``) or a Keras model file (``.keras``, ``.h5``, config ``.json``; its layers
only). A checkpoint stores the description itself (:func:`sepconv.arch.to_dict` data), which
:func:`read_architecture` takes too. Fashion-MNIST has 10 classes: :func:`check_trainable` refuses
any other count (conversion and parity accept it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sepconv.arch import Architecture, description_path, from_dict, load_keras_architecture, load_yaml
from sepconv.arch.yaml_io import DESCRIPTIONS_DIR
from sepconv.errors import InputError

__all__ = ["CLASSES", "YAML_SUFFIXES", "check_trainable", "muon_matrices", "read_architecture"]

#: Fashion-MNIST's class count
CLASSES = 10
YAML_SUFFIXES = (".yaml", ".yml")


def read_architecture(
    value: str | os.PathLike[str] | Mapping[str, Any], source: str = "architecture"
) -> Architecture:
    """The description in ``value``: a YAML file or shipped name, a Keras model file, or ``to_dict`` data."""
    if isinstance(value, Architecture):
        return value
    if isinstance(value, Mapping):
        return from_dict(dict(value), source=source)
    text = os.fspath(value)
    path = Path(text)
    if path.suffix.lower() in YAML_SUFFIXES or (DESCRIPTIONS_DIR / f"{text}.yaml").is_file():
        return load_yaml(description_path(text))
    if not path.is_file():
        raise InputError(
            f"{source} {text!r}: no such file (expected a YAML description, a shipped name or a Keras "
            "model file: .keras, .h5, .json)"
        )
    return load_keras_architecture(path)


def check_trainable(arch: Architecture, source: str) -> Architecture:
    """``arch`` if it can train and test on Fashion-MNIST (10 classes); else one line naming ``source``."""
    if arch.classes != CLASSES:
        raise InputError(
            f"{source}: network {arch.name!r} has {arch.classes} classes, Fashion-MNIST has {CLASSES}; "
            "it cannot be trained or tested here (sepconv-convert and sepconv-parity accept it)"
        )
    return arch


def muon_matrices(arch: Architecture) -> list[str]:
    """``layer/weight`` (Keras names) of the weights Muon updates in ``arch``, by the reference's rule: the
    kernels of ordinary convolutions (Conv2D, a SeparableConv2D's pointwise kernel) and of Dense layers;
    depthwise kernels, biases and BatchNorm weights take SGD steps."""
    from sepconv.arch import Conv2D, Dense, SeparableConv2D

    found = []
    for layer in arch.layers:
        if isinstance(layer, Conv2D | Dense):
            found.append(f"{layer.name}/kernel")
        elif isinstance(layer, SeparableConv2D):
            found.append(f"{layer.name}/pointwise_kernel")
    return found
