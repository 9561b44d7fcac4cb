"""Keras weight files read with h5py and JSON only: ``.keras``, Keras 2/3 legacy ``.h5``, ``.weights.h5``.

Two HDF5 layouts exist:

- *legacy* (Keras 2's ``ModelCheckpoint``/``save``, Keras 3's ``save("x.h5")``): the
  weights under ``model_weights/<layer>/`` (or the root, for weights-only files), listed
  by the ``layer_names`` and per-layer ``weight_names`` attributes; Keras 2 names a weight
  ``<layer>/kernel:0`` and stores it at ``model_weights/<layer>/<layer>/kernel:0``,
  Keras 3 ``<model>/<layer>/kernel``. The config is the root's ``model_config`` attribute.
- *Keras 3* (``save_weights`` and the ``model.weights.h5`` inside a ``.keras`` zip):
  ``layers/<class>[_<n>]/vars/<i>``, the layer's name in the ``vars`` group's ``name``
  attribute, the weights in the class's own order. A ``.keras`` zip adds ``config.json``.

When a config is present it is checked against the reference network
(:mod:`.keras_config`) and gives the layer order; without one (weights-only
files) the layers are taken in the reference's order of kinds, each class's
layers in the order Keras numbered them. Writing goes through Keras itself
(``model.save`` / ``save_weights``), on models this package built.
"""

from __future__ import annotations

import json
import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from parity.converter.errors import WeightFileError
from parity.converter.files.keras_config import ConfigLayer, check_config, config_layers
from parity.converter.stored import StoredKerasLayer, StoredKerasModel
from sepconv.arch.keras_weights import k3_groups, legacy_layers
from sepconv.arch.keras_weights import layer_arrays as _layer_arrays
from sepconv.spec import REFERENCE

__all__ = ["FORMATS", "layer_arrays", "load_h5", "load_keras_zip", "save_keras", "save_keras_weights"]

#: the weights of each class, in the order Keras creates them (Keras 3 files store only indices)
_WEIGHT_NAMES = {
    "Conv2D": ("kernel", "bias"),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "Dense": ("kernel", "bias"),
}
#: the group-name stem Keras 3 gives each class in a weights file
_STEMS = {
    "conv2d": "Conv2D",
    "separable_conv2d": "SeparableConv2D",
    "dense": "Dense",
    "max_pooling2d": "MaxPooling2D",
    "flatten": "Flatten",
}
_REFERENCE_CLASSES = {"conv": "Conv2D", "sepconv": "SeparableConv2D", "dense": "Dense"}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _json(value: Any, path: Path, what: str) -> dict[str, Any]:
    try:
        config = json.loads(_text(value))
    except json.JSONDecodeError as error:
        raise WeightFileError(f"{path}: {what} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise WeightFileError(f"{path}: {what} is not a JSON object")
    return config


def _stem(key: str) -> tuple[str, int]:
    """``separable_conv2d_3`` -> (``separable_conv2d``, 3); ``dense`` -> (``dense``, 0)."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", key)
    assert match is not None
    return match.group(1), int(match.group(2) or 0)


def _k3_by_class(groups: list[tuple[str, str, list[np.ndarray]]], path: Path) -> list[StoredKerasLayer]:
    """No config: the weighted groups in the reference's order of kinds, each class in Keras' numbering."""
    queues: dict[str, list[tuple[int, str, list[np.ndarray]]]] = {}
    for key, name, arrays in groups:
        stem, number = _stem(key)
        cls = _STEMS.get(stem)
        if cls is None:
            raise WeightFileError(f"{path}: layer {name!r} ({key}) is not a layer of the reference network")
        if arrays:
            queues.setdefault(cls, []).append((number, name, arrays))
    for queue in queues.values():
        queue.sort(key=lambda item: item[0])
    layers: list[StoredKerasLayer] = []
    for spec in REFERENCE:
        cls = _REFERENCE_CLASSES.get(spec.kind)
        if cls is None or not queues.get(cls):
            continue
        _, name, arrays = queues[cls].pop(0)
        layers.append(StoredKerasLayer(name, cls, tuple(zip(_WEIGHT_NAMES[cls], arrays, strict=False))))
    leftovers = [(cls, name, arrays) for cls, q in queues.items() for _, name, arrays in q]
    layers += [StoredKerasLayer(n, c, tuple(zip(_WEIGHT_NAMES[c], a, strict=False))) for c, n, a in leftovers]
    return layers


def _k3_by_config(
    groups: list[tuple[str, str, list[np.ndarray]]], config: list[ConfigLayer], path: Path
) -> list[StoredKerasLayer]:
    """With a config: each config layer's arrays from the group whose ``name`` attribute is the layer's."""
    by_name = {name: arrays for _, name, arrays in groups}
    layers = []
    for layer in config:
        arrays = by_name.get(layer.name)
        if arrays is None:
            raise WeightFileError(f"{path}: no weights stored for layer {layer.name!r}")
        names = _WEIGHT_NAMES.get(layer.class_name, ())
        layers.append(StoredKerasLayer(layer.name, layer.class_name, tuple(zip(names, arrays, strict=False))))
    return layers


# ---- readers ------------------------------------------------------------------------------------


def _read_h5(source: Path | BytesIO, path: Path, config: dict[str, Any] | None) -> StoredKerasModel:
    try:
        f = h5py.File(source, "r")
    except OSError as error:
        raise WeightFileError(f"{path}: not an HDF5 file ({error})") from error
    with f:
        if config is None and "model_config" in f.attrs:
            config = _json(f.attrs["model_config"], path, "the model_config attribute")
        listed = config_layers(config) if config is not None else None
        if listed is not None:
            check_config(listed, str(path))
        root = f.get("model_weights", f)
        if "layer_names" in root.attrs:
            stored = legacy_layers(root, path, WeightFileError)
            if listed is None:
                found = [(n, w) for n, w in stored.items() if w]
                return StoredKerasModel(
                    tuple(StoredKerasLayer(n, _legacy_class(w), tuple(w)) for n, w in found), str(path)
                )
            return StoredKerasModel(
                tuple(StoredKerasLayer(c.name, c.class_name, tuple(stored.get(c.name, []))) for c in listed),
                str(path),
            )
        groups = k3_groups(f, path, WeightFileError)
        if not groups:
            raise WeightFileError(f"{path}: no Keras weights found (neither 'layer_names' nor 'layers/')")
        layers = _k3_by_config(groups, listed, path) if listed is not None else _k3_by_class(groups, path)
        return StoredKerasModel(tuple(layers), str(path))


def _legacy_class(weights: list[tuple[str, np.ndarray]]) -> str:
    """A weights-only legacy file has no classes: infer them from the weight names."""
    names = tuple(n for n, _ in weights)
    if names == _WEIGHT_NAMES["SeparableConv2D"]:
        return "SeparableConv2D"
    if names == ("kernel", "bias"):
        return "Conv2D" if weights[0][1].ndim == 4 else "Dense"
    return "Unknown"


def load_h5(path: Path) -> StoredKerasModel:
    """An HDF5 Keras file of either layout: a legacy ``.h5`` model (Keras 2 or 3, config checked) or a
    weights-only ``.weights.h5`` (no config: layers matched by class and numbering)."""
    return _read_h5(path, path, None)


def load_keras_zip(path: Path) -> StoredKerasModel:
    """A ``.keras`` zip: ``config.json`` checked against the reference, ``model.weights.h5`` read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {"config.json", "model.weights.h5"} - names
            if missing:
                raise WeightFileError(
                    f"{path}: not a Keras 3 .keras archive (no {', '.join(sorted(missing))})"
                )
            config = _json(archive.read("config.json"), path, "config.json")
            weights = BytesIO(archive.read("model.weights.h5"))
    except zipfile.BadZipFile as error:
        raise WeightFileError(f"{path}: not a zip archive ({error})") from error
    return _read_h5(weights, path, config)


def layer_arrays(path: Path) -> dict[str, list[np.ndarray]]:
    """Layer name -> its arrays in Keras' order (:func:`sepconv.arch.keras_weights.layer_arrays`), refusals
    as ``WeightFileError``."""
    return _layer_arrays(path, WeightFileError)


def save_keras(model: Any, path: Path) -> None:
    """``model.save(path)``: a ``.keras`` zip or a legacy ``.h5``, by extension."""
    model.save(path)


def save_keras_weights(model: Any, path: Path) -> None:
    """``model.save_weights(path)`` (a ``.weights.h5`` file)."""
    model.save_weights(path)


def _formats() -> tuple[Any, ...]:
    from parity.converter.files import WeightFormat

    return (
        WeightFormat(
            ".keras", "keras", "Keras 3 zip: config.json + model.weights.h5", load_keras_zip, save_keras
        ),
        WeightFormat(".h5", "keras", "legacy HDF5 Keras model (Keras 2 or 3)", load_h5, save_keras),
        WeightFormat(
            ".weights.h5", "keras", "Keras weights only (save_weights)", load_h5, save_keras_weights
        ),
    )


FORMATS = _formats()
