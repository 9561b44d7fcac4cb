"""Reading and writing weight files of both frameworks, chosen by extension, loaded safely.

======================  =====================================================
extension               contents
======================  =====================================================
``.keras``              a Keras model (loaded with ``safe_mode=True``)
``.h5``                 a legacy Keras model, e.g. from ``ModelCheckpoint``
``.ckpt``               a Lightning checkpoint of ``SepConvLitModule``
                        (``state_dict`` keys ``net.conv1.weight``, ...)
``.safetensors``        the exchange format: PyTorch-layout tensors under
                        PyTorch keys (``conv1.weight``), metadata
                        ``{"format": "pt", "sepconv.format": ...}``
``.pt`` / ``.pth``      a PyTorch state dict (``torch.save``)
======================  =====================================================

PyTorch files are read with ``torch.load(weights_only=True)`` and safetensors,
never with plain pickle. Writers go through :func:`atomic_write`: a temporary
file next to the destination, renamed over it only once complete.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import keras
import torch
from torch import nn

from parity.torch_side import network_of, strip_prefix

__all__ = [
    "KERAS_SUFFIXES",
    "SAFETENSORS_FORMAT",
    "TORCH_SUFFIXES",
    "WeightFileError",
    "atomic_write",
    "file_kind",
    "load_weights_file",
    "save_keras",
    "save_torch",
]

KERAS_SUFFIXES = (".keras", ".h5")
TORCH_SUFFIXES = (".ckpt", ".safetensors", ".pt", ".pth")
#: ``sepconv.format`` metadata of the safetensors exchange files this package writes.
SAFETENSORS_FORMAT = "sepconv-torch-state-dict/1"

FileKind = Literal["keras", "torch"]


class WeightFileError(ValueError):
    """A weight file that cannot be read or written; the message starts with the file's path."""


def file_kind(path: str | os.PathLike[str]) -> FileKind:
    """``keras`` or ``torch``, from the extension; ``WeightFileError`` for any other."""
    suffix = Path(path).suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix in TORCH_SUFFIXES:
        return "torch"
    raise WeightFileError(
        f"{path}: unknown extension {suffix!r}; expected one of {KERAS_SUFFIXES + TORCH_SUFFIXES}"
    )


def _tensors_only(state: Any, path: Path, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightFileError(f"{path}: {where} is not a dict of tensors (found {type(state).__name__})")
    return state


def _load_torch(path: Path) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            layout = meta.get("sepconv.layout", "torch")
            if layout != "torch":
                raise WeightFileError(f"{path}: metadata sepconv.layout={layout!r}, expected 'torch'")
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if suffix == ".ckpt":
        if not isinstance(obj, dict) or "state_dict" not in obj:
            raise WeightFileError(f"{path}: not a Lightning checkpoint (no 'state_dict' key)")
        return strip_prefix(_tensors_only(obj["state_dict"], path, "'state_dict'"))
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    return strip_prefix(_tensors_only(obj, path, "the file"))


def load_weights_file(path: str | os.PathLike[str]) -> keras.Model | dict[str, torch.Tensor]:
    """A Keras model (``.keras``, ``.h5``) or a PyTorch state dict without ``net.`` prefix (the others).

    Anything the safe loaders refuse (pickled code, Lambda layers) or that is
    not a weight file becomes a :class:`WeightFileError` naming ``path``.
    """
    path = Path(path)
    kind = file_kind(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: no such file")
    try:
        if kind == "keras":
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        return _load_torch(path)
    except WeightFileError:
        raise
    except Exception as error:  # the loaders raise many types; all mean "not a file we accept"
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # torch colours its messages
        first = text.splitlines()[0] if text else ""
        raise WeightFileError(
            f"{path}: refused by the {kind} loader: {type(error).__name__}: {first}"
        ) from error


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path`` (same extension), then rename it to ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_keras(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Save a Keras model as ``.keras`` (native) or ``.h5`` (legacy), atomically."""
    if file_kind(path) != "keras":
        raise WeightFileError(f"{path}: not a Keras extension {KERAS_SUFFIXES}")
    return atomic_write(path, model.save)


def _checkpoint(net: nn.Module) -> dict[str, Any]:
    """A Lightning checkpoint that ``SepConvLitModule.load_from_checkpoint`` and ``Trainer.test`` accept.

    No ``loops`` key: Lightning then leaves its loops as they are (an empty dict would
    make ``Trainer.test(ckpt_path=...)`` look up ``loops["test_loop"]`` and fail).
    """
    import lightning

    from sepconv_torch.lit_module import SepConvLitModule

    module = SepConvLitModule(net=copy.deepcopy(network_of(net)))  # it may change the memory format
    return {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()},
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(module.hparams),
    }


def save_torch(net: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Save a network (or a LightningModule's ``net``) as ``.ckpt``, ``.safetensors`` or ``.pt``/``.pth``, atomically."""
    path = Path(path)
    if file_kind(path) != "torch":
        raise WeightFileError(f"{path}: not a PyTorch extension {TORCH_SUFFIXES}")
    state = {k: v.detach().clone().contiguous() for k, v in network_of(net).state_dict().items()}
    suffix = path.suffix.lower()
    if suffix == ".ckpt":
        checkpoint = _checkpoint(net)
        return atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        meta = {"format": "pt", "sepconv.format": SAFETENSORS_FORMAT, "sepconv.layout": "torch"}
        return atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))
    return atomic_write(path, lambda tmp: torch.save(state, tmp))
