"""A description read out of a Keras model file's config, as JSON data: no Keras code runs.

Sources: a ``.keras`` zip (its ``config.json``), a legacy ``.h5`` (the root's ``model_config``
attribute; Keras 2 and Keras 3 write it), or a model config ``.json`` (``model.to_json()``). A
``Sequential`` or a ``Functional`` model whose graph is a chain is read, nested models flattened;
the first layer outside the family refuses the whole model, in one line naming it and what is
unsupported (a branch such as ``Add``, a ``Lambda`` or custom class, ``dilation_rate``, ``groups``,
``channels_first``, ``noise_shape``, ``renorm``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from sepconv.arch.errors import ArchitectureError
from sepconv.arch.layers import ACTIVATIONS, LAYER_CLASSES, Layer
from sepconv.arch.network import Architecture

__all__ = ["architecture_from_config", "load_keras_architecture", "read_keras_config"]

_MODELS = ("Sequential", "Functional", "Model")
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")
#: Keras' registered name of the tanh GELU the Keras builder serializes (``sepconv_keras.arch``)
GELU_TANH_REGISTERED = "sepconv>gelu_tanh"
#: per class: the Keras config keys read into the description (others, such as initializers, are ignored)
_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias"),
    "SeparableConv2D": (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "depth_multiplier",
        "activation",
        "use_bias",
    ),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "depth_multiplier", "activation", "use_bias"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Activation": ("activation",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "LeakyReLU": ("negative_slope",),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "GlobalAveragePooling2D": ("keepdims",),
    "GlobalMaxPooling2D": ("keepdims",),
    "ZeroPadding2D": ("padding",),
    "Dropout": ("rate",),
    "SpatialDropout2D": ("rate",),
    "Flatten": (),
    "Reshape": ("target_shape",),
    "Dense": ("units", "activation", "use_bias"),
}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _json(text: Any, source: str, what: str) -> dict[str, Any]:
    try:
        config = json.loads(_text(text))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArchitectureError(f"{source}: {what} is not valid JSON ({error})") from error
    if not isinstance(config, dict):
        raise ArchitectureError(f"{source}: {what} is not a JSON object")
    return config


def read_keras_config(path: str | Path) -> dict[str, Any]:
    """The model config of a ``.keras`` zip, a legacy ``.h5`` or a ``.json`` file (read as data only)."""
    path = Path(path)
    if not path.is_file():
        raise ArchitectureError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    raise ArchitectureError(f"{path}: a zip without config.json, not a .keras model")
                return _json(archive.read("config.json"), str(path), "config.json")
        with path.open("rb") as f:
            is_h5 = f.read(8) == b"\x89HDF\r\n\x1a\n"
        if is_h5:
            return _h5_config(path)
        return _json(path.read_bytes(), str(path), "the file")
    except (OSError, zipfile.BadZipFile) as error:
        raise ArchitectureError(f"{path}: cannot be read ({error})") from error


def _h5_config(path: Path) -> dict[str, Any]:
    try:
        import h5py  # the Keras extra's dependency; only HDF5 files need it
    except ImportError as error:
        raise ArchitectureError(f"{path}: reading an HDF5 file needs h5py (pip install h5py)") from error
    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            raise ArchitectureError(
                f"{path}: an HDF5 file without a model_config attribute (weights only?), no architecture"
            )
        return _json(f.attrs["model_config"], str(path), "the model_config attribute")


def _activation(value: Any) -> Any:
    """Keras' serialized activation -> its name (``None`` -> ``linear``; a registered function by name)."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        registered = value.get("registered_name")
        if registered == GELU_TANH_REGISTERED or value.get("config") == GELU_TANH_REGISTERED:
            return "gelu_tanh"
        inner = value.get("config", value.get("class_name"))
        return inner.get("name") if isinstance(inner, dict) else inner
    return value


def _inbound(entry: dict[str, Any]) -> list[str]:
    """Names of the layers feeding ``entry`` in a Functional config (Keras 2 and 3 node formats)."""
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "__keras_tensor__":
                names.append(str(node["config"]["keras_history"][0]))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                names.append(node[0])  # Keras 2: [layer, node_index, tensor_index, kwargs]
                return
            for value in node:
                walk(value)

    walk(entry.get("inbound_nodes", []))
    return names


def _input_shape(entry: dict[str, Any]) -> Any:
    cfg = entry.get("config", {})
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    return None if shape is None else tuple(shape[1:])


def _refuse(name: str, cls: str, message: str) -> ArchitectureError:
    return ArchitectureError(f"layer {name!r} ({cls}): {message}")


def _layer(entry: dict[str, Any]) -> Layer:
    """One family layer from its config entry, or the refusal naming it."""
    cls, cfg = str(entry.get("class_name", "?")), entry.get("config", {})
    name = str(cfg.get("name", entry.get("name", "?")))
    if cls in _MERGES:
        raise _refuse(name, cls, "a branch (it merges several inputs); only chain networks are supported")
    kind = LAYER_CLASSES.get(cls)
    registered = entry.get("registered_name")
    if kind is None or (registered not in (None, cls) and not str(registered).startswith("keras")):
        what = "a Lambda (its code is not read)" if cls == "Lambda" else "a custom or unsupported layer class"
        supported = ", ".join(sorted({c.__name__ for c in LAYER_CLASSES.values()}))
        raise _refuse(name, cls, f"{what}; supported: {supported}")
    if cfg.get("data_format") == "channels_first":
        raise _refuse(name, cls, "data_format='channels_first' is not supported (channels_last only)")
    dilation = cfg.get("dilation_rate", 1)
    if dilation not in (1, [1, 1], (1, 1)):
        raise _refuse(name, cls, f"dilation_rate={dilation} is not supported (1 only)")
    if cfg.get("groups", 1) != 1:
        raise _refuse(
            name, cls, f"groups={cfg['groups']} is not supported (1, or a DepthwiseConv2D for depthwise)"
        )
    if cfg.get("noise_shape") is not None:
        raise _refuse(name, cls, f"noise_shape={cfg['noise_shape']} is not supported")
    if cfg.get("renorm"):
        raise _refuse(name, cls, "renorm=True is not supported")
    args = {key: cfg[key] for key in _ARGUMENTS[kind.__name__] if key in cfg}
    if kind.__name__ == "LeakyReLU" and "negative_slope" not in cfg and "alpha" in cfg:
        args["negative_slope"] = cfg["alpha"]  # Keras 2's name
    if "activation" in args:
        args["activation"] = _activation(args["activation"])
        if args["activation"] not in ACTIVATIONS:
            raise _refuse(
                name, cls, f"activation={args['activation']!r} is not supported; supported: {ACTIVATIONS}"
            )
    if isinstance(args.get("axis"), list | tuple):
        axes = args["axis"]
        args["axis"] = axes[0] if len(axes) == 1 else axes
    return kind(name=name, **args)


def _chain(config: dict[str, Any], source: str, previous: str | None) -> tuple[list[Layer], Any, str | None]:
    """The layers of a model config in order, nested models flattened, the chain checked.

    Returns ``(layers, input shape or None, the last layer's name)``.
    """
    inner = config.get("config", {})
    entries = inner.get("layers", []) if isinstance(inner, dict) else []
    functional = str(config.get("class_name")) != "Sequential"
    layers: list[Layer] = []
    shape = inner.get("build_input_shape") if isinstance(inner, dict) else None
    shape = tuple(shape[1:]) if isinstance(shape, list | tuple) else None
    for entry in entries:
        cls = str(entry.get("class_name", "?"))
        name = str(entry.get("config", {}).get("name", entry.get("name", "?")))
        if cls in _MERGES:
            _layer(entry)  # refuses it as a branch
        if functional and cls != "InputLayer":
            feeds = _inbound(entry)
            if len(feeds) != 1:
                raise _refuse(
                    name,
                    cls,
                    f"takes {len(feeds)} inputs ({', '.join(feeds)}); only chain networks are supported",
                )
            if previous is not None and feeds[0] != previous:
                raise _refuse(
                    name,
                    cls,
                    f"takes its input from {feeds[0]!r}, not from the layer before it ({previous!r}); "
                    "only chain networks are supported",
                )
        if cls == "InputLayer":
            shape = shape or _input_shape(entry)
            previous = name
            continue
        if shape is None and not layers:
            shape = _input_shape(entry)  # Keras 2 Sequential: batch_input_shape on the first layer
        if cls in _MODELS:
            nested, nested_shape, _ = _chain(entry, source, None)
            layers += nested
            shape = shape or nested_shape
        else:
            layers.append(_layer(entry))
        previous = name
    if functional and isinstance(inner, dict) and inner.get("output_layers"):
        outputs = inner["output_layers"]
        out = outputs[0] if outputs and isinstance(outputs[0], list) else outputs
        if (len(outputs) > 1 and isinstance(outputs[0], list)) or out[0] != previous:
            raise ArchitectureError(
                f"{source}: the model's outputs {outputs} are not its last layer {previous!r}; "
                "only single-output chain networks are supported"
            )
    return layers, shape, previous


def architecture_from_config(config: dict[str, Any], source: str = "config") -> Architecture:
    """A description from a Keras model config (``model.get_config()`` wrapped as ``to_json`` writes it,
    or the ``config`` dict itself)."""
    if "class_name" not in config:
        config = {"class_name": "Functional" if "input_layers" in config else "Sequential", "config": config}
    if str(config.get("class_name")) not in _MODELS:
        raise ArchitectureError(f"{source}: not a model config (class_name={config.get('class_name')!r})")
    try:
        layers, shape, _ = _chain(config, source, None)
        if shape is None:
            raise ArchitectureError("the config states no input shape (build the model or give it an Input)")
        if len(shape) != 3 or any(v is None for v in shape):
            raise ArchitectureError(f"input shape {shape} is not a fixed (H, W, C)")
        name = str(config.get("config", {}).get("name", "network"))
        return Architecture(name, tuple(shape), tuple(layers))  # type: ignore[arg-type]
    except ArchitectureError as error:
        raise ArchitectureError(f"{source}: {error}") from None
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:  # malformed JSON structure
        raise ArchitectureError(
            f"{source}: not a Keras model config this reader understands ({type(error).__name__}: {error})"
        ) from None


def load_keras_architecture(path: str | Path) -> Architecture:
    """The description of a Keras model file (``.keras``, ``.h5`` or config ``.json``)."""
    return architecture_from_config(read_keras_config(path), str(path))
