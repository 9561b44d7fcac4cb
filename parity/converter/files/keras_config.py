"""A Keras model config (JSON, Keras 2 or 3) read as data and checked against the architecture table.

The config is never handed to Keras: :func:`config_layers` walks its layers
(nested ``Sequential``/``Functional`` models flattened, ``InputLayer`` dropped)
and :func:`check_config` compares them with the spec, layer by layer: the class
(a layer the reference does not have, e.g. a ``Lambda``, is refused by name),
the activation, padding, strides, pool size and data format. Sizes (filters,
units, kernels) are left to the weight shapes, which the transfer validates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parity.converter.errors import WeightFileError
from parity.converter.keras_weights import KERAS_KINDS
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["ConfigLayer", "check_config", "config_layers"]

_MODELS = ("Sequential", "Functional", "Model")


@dataclass(frozen=True)
class ConfigLayer:
    """One layer of a config: its name, Keras class name and own ``config`` dict."""

    name: str
    class_name: str
    config: dict[str, Any]


def config_layers(config: dict[str, Any]) -> list[ConfigLayer]:
    """The layers of a model config in order, nested models flattened, without ``InputLayer``."""
    found: list[ConfigLayer] = []
    for entry in config.get("config", {}).get("layers", []):
        cls = str(entry.get("class_name", ""))
        if cls in _MODELS:
            found += config_layers(entry)
        elif cls != "InputLayer":
            inner = entry.get("config", {})
            found.append(ConfigLayer(str(inner.get("name", entry.get("name", "?"))), cls, inner))
    return found


def _activation(config: dict[str, Any]) -> str | None:
    value = config.get("activation")
    if isinstance(value, dict):  # a serialized function or object
        value = value.get("config", value.get("class_name"))
        value = value.get("name") if isinstance(value, dict) else value
    return None if value in (None, "linear") else str(value)


def _pair(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value, value)


def _layer_problems(layer: ConfigLayer, spec: LayerSpec) -> list[str]:
    c, problems = layer.config, []
    kind = KERAS_KINDS.get(layer.class_name)
    if kind != spec.kind:
        return [f"layer {layer.name!r} is a {layer.class_name}, the reference's {spec.name} is a {spec.kind}"]
    expected: dict[str, Any] = {"data_format": "channels_last"}
    if kind in ("conv", "sepconv"):
        expected |= {"padding": spec.padding, "strides": (1, 1), "dilation_rate": (1, 1)}
    if kind in ("conv", "sepconv", "dense"):
        expected["activation"] = spec.activation
    if kind == "maxpool":
        expected |= {"pool_size": (spec.kernel, spec.kernel), "strides": (spec.kernel, spec.kernel)}
        expected["padding"] = "valid"
    for key, want in expected.items():
        if key not in c or (key == "data_format" and c[key] is None):
            continue
        found = _activation(c) if key == "activation" else c[key]
        if isinstance(want, tuple):
            found = _pair(found) if found is not None else want
        if found != want:
            problems.append(
                f"layer {layer.name!r} ({layer.class_name}) {key}={found!r}, the reference has {want!r}"
            )
    return problems


def check_config(layers: Sequence[ConfigLayer], path: str, spec: Sequence[LayerSpec] = REFERENCE) -> None:
    """``WeightFileError`` naming ``path`` and every layer that differs from ``spec`` in kind or settings."""
    foreign = [f"layer {c.name!r} ({c.class_name})" for c in layers if c.class_name not in KERAS_KINDS]
    if foreign:
        raise WeightFileError(
            f"{path}: the config has layers the reference network does not have: {', '.join(foreign)}"
        )
    problems = [p for layer, want in zip(layers, spec, strict=False) for p in _layer_problems(layer, want)]
    if len(layers) != len(spec):
        problems.append(f"{len(layers)} layers, the reference has {len(spec)}")
    if problems:
        raise WeightFileError(f"{path}: the config differs from the reference network: {'; '.join(problems)}")
