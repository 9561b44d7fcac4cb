"""Descriptions as YAML: read (every key checked) and written (defaults left out).

The format, one mapping per layer with its Keras class under ``class`` and Keras' argument names::

    name: reference
    input_shape: [28, 28, 1]
    layers:
      - {class: Conv2D, name: conv1, filters: 32, kernel_size: 3, padding: same, activation: selu}
      - {class: MaxPooling2D, name: pool1, pool_size: 2}
      - ...

``kernel_size``, ``strides`` and ``pool_size`` take an integer or ``[h, w]``; an argument left out
takes Keras' default. Shipped descriptions live in ``sepconv/arch/descriptions`` (:func:`description_path`).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from sepconv.arch.errors import ArchitectureError
from sepconv.arch.layers import LAYER_CLASSES, Layer, _Pooling
from sepconv.arch.network import Architecture
from sepconv.paths import packaged_or_path

__all__ = ["DESCRIPTIONS_DIR", "description_path", "dump_yaml", "from_dict", "load_yaml", "to_dict"]

DESCRIPTIONS_DIR = Path(__file__).parent / "descriptions"


def description_path(name_or_path: str | Path) -> Path:
    """``reference`` / ``standard`` / ``mobilenet_v1_025_32`` -> the shipped YAML; else a path."""
    return packaged_or_path(DESCRIPTIONS_DIR, name_or_path, "description", ArchitectureError)


def layer_from_dict(entry: Any, index: int) -> Layer:
    """One layer from its mapping ``{class: ..., name: ..., <Keras arguments>}``."""
    if not isinstance(entry, dict):
        raise ArchitectureError(
            f"layer {index}: must be a mapping with 'class' and 'name', received {entry!r}"
        )
    entry = dict(entry)
    class_name, name = entry.pop("class", None), entry.get("name", f"#{index}")
    cls = LAYER_CLASSES.get(str(class_name))
    if cls is None:
        raise ArchitectureError(
            f"layer {name!r}: class must be one of {sorted({c.__name__ for c in LAYER_CLASSES.values()})}, "
            f"received class={class_name!r}"
        )
    if "name" not in entry:
        raise ArchitectureError(f"layer {index} ({cls.__name__}): has no name")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ArchitectureError(
            f"layer {name!r} ({cls.__name__}): unknown argument {unknown[0]!r}; "
            f"known: {', '.join(sorted(known - {'name'}))}"
        )
    for key in _NUMBERS & set(entry):
        entry[key] = _number(entry[key])
    return cls(**entry)


#: arguments that are numbers: PyYAML reads ``1e-3`` (no dot) as a string, so such strings are parsed
_NUMBERS = frozenset({"epsilon", "momentum", "rate", "max_value", "negative_slope", "threshold"})


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def from_dict(data: Any, source: str = "description") -> Architecture:
    """A description from its parsed YAML (or any mapping of the same form)."""
    if not isinstance(data, dict):
        raise ArchitectureError(f"{source}: must be a mapping with name, input_shape and layers")
    unknown = sorted(set(data) - {"name", "input_shape", "layers"})
    if unknown:
        raise ArchitectureError(f"{source}: unknown key {unknown[0]!r}; known: name, input_shape, layers")
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise ArchitectureError(f"{source}: layers must be a list of layer mappings, received {layers!r}")
    shape = data.get("input_shape")
    return Architecture(
        str(data.get("name", "network")),
        tuple(shape) if isinstance(shape, list) else shape,  # type: ignore[arg-type]
        tuple(layer_from_dict(entry, i) for i, entry in enumerate(layers)),
    )


def load_yaml(path: str | Path) -> Architecture:
    """A description from a YAML file (or a shipped one by name); errors name the file."""
    path = description_path(path)
    try:
        data = yaml.safe_load(path.read_bytes().decode())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ArchitectureError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from error
    try:
        return from_dict(data, str(path))
    except ArchitectureError as error:
        message = str(error)
        raise ArchitectureError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == value[1] and not isinstance(value[0], tuple):
            return value[0]
        return [_plain(v) for v in value]
    return value


#: arguments written even at their default (Keras requires them, or they carry the layer's meaning)
_ALWAYS = frozenset({"filters", "units", "kernel_size", "pool_size", "rate", "target_shape", "padding"})


def layer_to_dict(layer: Layer) -> dict[str, Any]:
    """``{class, name, arguments that differ from Keras' defaults}``; square pairs as one integer."""
    out: dict[str, Any] = {"class": type(layer).__name__, "name": layer.name}
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name == "name" or (value == f.default and f.name not in _ALWAYS):
            continue
        if isinstance(layer, _Pooling) and f.name == "strides" and value == layer.pool_size:
            continue
        if f.name == "target_shape":
            out[f.name] = list(value)
            continue
        if f.name == "padding" and isinstance(value, tuple):  # ZeroPadding2D: ((top, bottom), (left, right))
            flat = [v for pair in value for v in pair]
            out[f.name] = flat[0] if len(set(flat)) == 1 else [list(pair) for pair in value]
            continue
        out[f.name] = _plain(value)
    return out


def to_dict(arch: Architecture) -> dict[str, Any]:
    """The description as plain data (the YAML's content)."""
    return {
        "name": arch.name,
        "input_shape": list(arch.input_shape),
        "layers": [layer_to_dict(layer) for layer in arch.layers],
    }


def dump_yaml(arch: Architecture, path: str | Path | None = None, header: str = "") -> str:
    """The description as YAML text, one flow mapping per layer; written to ``path`` if given.

    ``header`` is written first, each line as a ``#`` comment."""
    data = to_dict(arch)
    head = yaml.safe_dump(
        {k: data[k] for k in ("name", "input_shape")}, sort_keys=False, default_flow_style=None
    )
    body = "".join(
        "  - " + yaml.safe_dump(layer, sort_keys=False, default_flow_style=True, width=10_000).strip() + "\n"
        for layer in data["layers"]
    )
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    text = f"{comments}{head}layers:\n{body}"
    if path is not None:
        Path(path).write_text(text)
    return text
