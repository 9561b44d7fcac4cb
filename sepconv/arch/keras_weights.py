"""A Keras model file's weights read as data, with h5py and JSON only (no TensorFlow, no PyTorch).

:func:`layer_arrays` reads each layer's arrays from a ``.keras`` zip (its ``model.weights.h5``), a
legacy ``.h5`` (Keras 2 or 3: ``model_weights/<layer>/...`` listed by ``layer_names`` and
``weight_names``) or a Keras 3 ``.weights.h5`` (``layers/<class>[_<n>]/vars/<i>``, the layer's name
in the ``vars`` group's ``name`` attribute). :func:`described_arrays` matches them to a description:
every weight of :func:`sepconv.arch.weight_rows`, in its order, by layer name, count and shape, all
finite and of one dtype. ``sepconv-torch`` and ``sepconv-keras`` read ``--init-from-file`` with
them, and the converter (:mod:`parity.converter.described`) too. Every refusal is ``error`` (the
caller's type) with a message that starts with the file's path.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from sepconv.arch.mapping import WeightRow, weight_rows
from sepconv.arch.network import Architecture

__all__ = [
    "check_arrays",
    "described_arrays",
    "k3_groups",
    "keras_file_weights",
    "layer_arrays",
    "legacy_layers",
]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _array(node: Any, path: Path, where: str, error: type[Exception]) -> np.ndarray:
    import h5py

    if not isinstance(node, h5py.Dataset):
        raise error(f"{path}: {where} is not an HDF5 dataset")
    return np.asarray(node[()])


def legacy_layers(
    root: Any, path: Path, error: type[Exception] = ValueError
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Layer name -> ``[(weight name, array)]`` of an ``h5py.Group`` in the legacy layout, from its
    ``layer_names`` / ``weight_names`` attributes (a nested model's weights go to the layer their names'
    second-last component names)."""
    import h5py

    layers: dict[str, list[tuple[str, np.ndarray]]] = {}
    for top in (_text(n) for n in root.attrs["layer_names"]):
        group = root.get(top)
        if not isinstance(group, h5py.Group):
            raise error(f"{path}: layer {top!r} is listed but has no group")
        for name in (_text(n) for n in group.attrs.get("weight_names", [])):
            parts = name.split("/")
            layer = parts[-2] if len(parts) >= 2 else top
            weight = re.sub(r":\d+$", "", parts[-1])
            array = _array(group.get(name), path, f"weight {name!r}", error)
            layers.setdefault(layer, []).append((weight, array))
    return layers


def k3_groups(
    group: Any, path: Path, error: type[Exception] = ValueError
) -> list[tuple[str, str, list[np.ndarray]]]:
    """``(group name, layer name, arrays)`` of every layer group under ``group/layers`` (recursively),
    an ``h5py.Group`` in the Keras 3 layout."""
    import h5py

    found: list[tuple[str, str, list[np.ndarray]]] = []
    layers = group.get("layers")
    if not isinstance(layers, h5py.Group):
        return found
    for key in layers:
        sub = layers[key]
        if "layers" in sub:
            found += k3_groups(sub, path, error)
            continue
        variables = sub.get("vars")
        if not isinstance(variables, h5py.Group):
            continue
        indices = sorted(variables, key=int)
        arrays = [_array(variables[i], path, f"layers/{key}/vars/{i}", error) for i in indices]
        found.append((key, _text(variables.attrs.get("name", key)), arrays))
    return found


def layer_arrays(path: str | Path, error: type[Exception] = ValueError) -> dict[str, list[np.ndarray]]:
    """Layer name -> its arrays in Keras' order, from a ``.keras`` zip or an ``.h5`` of either layout.

    Read as data, nothing checked: :func:`described_arrays` matches them to a description."""
    path = Path(path)
    try:
        import h5py  # the Keras extra's dependency, and the torch extra's for --init-from-file
    except ImportError as missing:
        raise error(f"{path}: reading a Keras file's weights needs h5py (pip install h5py)") from missing
    source: Path | BytesIO = path
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if "model.weights.h5" not in archive.namelist():
                    raise error(f"{path}: not a Keras 3 .keras archive (no model.weights.h5)")
                source = BytesIO(archive.read("model.weights.h5"))
        f = h5py.File(source, "r")
    except (OSError, zipfile.BadZipFile) as failure:
        raise error(f"{path}: not an HDF5 file ({failure})") from failure
    with f:
        root = f.get("model_weights", f)
        if "layer_names" in root.attrs:
            return {
                name: [a for _, a in weights] for name, weights in legacy_layers(root, path, error).items()
            }
        return {name: arrays for _, name, arrays in k3_groups(f, path, error)}


def _by_layer(rows: tuple[WeightRow, ...]) -> dict[str, list[WeightRow]]:
    found: dict[str, list[WeightRow]] = {}
    for row in rows:
        found.setdefault(row.layer, []).append(row)
    return found


def described_arrays(
    arch: Architecture,
    stored: dict[str, list[np.ndarray]],
    source: str,
    consequence: str,
    error: type[Exception] = ValueError,
) -> tuple[np.ndarray, ...]:
    """``stored`` (:func:`layer_arrays`) as the arrays of ``weight_rows(arch)``, in that order, in Keras'
    layouts; refused (``error`` naming ``source``, the layer and the weight) if a layer stores another
    number of weights, a weight has another shape, any value is NaN or infinite (the message ends with
    ``consequence``) or the dtypes differ."""
    rows = weight_rows(arch)
    arrays: list[np.ndarray] = []
    for layer, layer_rows in _by_layer(rows).items():
        found = stored.get(layer, [])
        if len(found) != len(layer_rows):
            raise error(
                f"{source}: layer {layer!r} stores {len(found)} weights, its description has "
                f"{len(layer_rows)} ({', '.join(r.keras_weight for r in layer_rows)})"
            )
        for row, array in zip(layer_rows, found, strict=True):
            if tuple(array.shape) != row.keras_shape:
                raise error(
                    f"{source}: {row.layer}/{row.keras_weight} has shape {tuple(array.shape)}, "
                    f"the description {row.keras_shape}"
                )
            arrays.append(array)
    check_arrays(
        {f"{r.layer}/{r.keras_weight}": a for r, a in zip(rows, arrays, strict=True)},
        source,
        consequence,
        error,
    )
    return tuple(arrays)


def check_arrays(
    named: dict[str, np.ndarray], source: str, consequence: str, error: type[Exception] = ValueError
) -> None:
    """Refuse (``error`` naming ``source``) NaN or infinite values (the message ends with ``consequence``)
    and weights of more than one dtype."""
    from sepconv.weights import check_weights

    check_weights(named, source, consequence, error)
    dtypes = sorted({str(a.dtype) for a in named.values()})
    if len(dtypes) > 1:
        raise error(f"{source}: the weights mix dtypes {dtypes}; expected one")


def keras_file_weights(
    path: str | Path, consequence: str, error: type[Exception] = ValueError
) -> tuple[Architecture, tuple[np.ndarray, ...]]:
    """The description a Keras model file ``path`` holds (its config read as data,
    :func:`sepconv.arch.architecture_from_config`) and its weights matched to it (:func:`described_arrays`).

    A weights-only file (``.weights.h5``, no config) is refused as ``error``; a config outside the family
    as :class:`~sepconv.arch.ArchitectureError`, naming the layer."""
    from sepconv.arch.keras_files import architecture_from_config, read_keras_config

    path = Path(path)
    if path.name.lower().endswith(".weights.h5"):
        raise error(f"{path}: holds no Keras model config; expected a Keras model file (.keras, .h5)")
    arch = architecture_from_config(read_keras_config(path), str(path))
    return arch, described_arrays(arch, layer_arrays(path, error), str(path), consequence, error)
