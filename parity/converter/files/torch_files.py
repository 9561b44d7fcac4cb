"""PyTorch weight files: Lightning ``.ckpt``, ``.safetensors`` (the exchange format), ``.pt`` / ``.pth``.

Read with ``torch.load(weights_only=True)`` or safetensors, never with plain
pickle; the state dict comes back without the ``net.`` prefix. ``.safetensors``
files hold PyTorch-layout tensors under PyTorch keys (``conv1.weight``) with
metadata ``{"format": "pt", "sepconv.format": SAFETENSORS_FORMAT}``.
"""

from __future__ import annotations

import copy
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from parity.converter.errors import WeightFileError

__all__ = ["FORMATS", "SAFETENSORS_FORMAT", "load_torch", "save_torch"]

#: ``sepconv.format`` metadata of the safetensors exchange files this package writes.
SAFETENSORS_FORMAT = "sepconv-torch-state-dict/1"


def _tensors_only(state: Any, path: Path, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightFileError(f"{path}: {where} is not a dict of tensors (found {type(state).__name__})")
    return state


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``; what it refuses (pickled code, not a torch file) names ``path``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # torch colours its messages
        first = text.splitlines()[0] if text else ""
        raise WeightFileError(f"{path}: refused by torch.load(weights_only=True): {first}") from error


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            layout = meta.get("sepconv.layout", "torch")
            if layout != "torch":
                raise WeightFileError(f"{path}: metadata sepconv.layout={layout!r}, expected 'torch'")
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except SafetensorError as error:
        raise WeightFileError(f"{path}: not a safetensors file: {error}") from error


def load_torch(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a PyTorch weight file, without the ``net.`` prefix."""
    from parity.converter.torch_weights import strip_prefix

    if path.suffix.lower() == ".safetensors":
        return _load_safetensors(path)
    obj = _torch_load(path)
    if path.suffix.lower() == ".ckpt":
        if not isinstance(obj, dict) or "state_dict" not in obj:
            raise WeightFileError(f"{path}: not a Lightning checkpoint (no 'state_dict' key)")
        return strip_prefix(_tensors_only(obj["state_dict"], path, "'state_dict'"))
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    return strip_prefix(_tensors_only(obj, path, "the file"))


def _checkpoint(net: nn.Module) -> dict[str, Any]:
    """A Lightning checkpoint that ``SepConvLitModule.load_from_checkpoint`` and ``Trainer.test`` accept.

    No ``loops`` key: Lightning then leaves its loops as they are (an empty dict would
    make ``Trainer.test(ckpt_path=...)`` look up ``loops["test_loop"]`` and fail).
    """
    import lightning

    from parity.converter.torch_weights import network_of
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


def save_torch(net: nn.Module, path: Path) -> None:
    """Write a network (or a LightningModule's ``net``) in the format of ``path``'s extension."""
    from parity.converter.torch_weights import network_of

    state = {k: v.detach().clone().contiguous() for k, v in network_of(net).state_dict().items()}
    suffix = path.suffix.lower()
    if suffix == ".ckpt":
        torch.save(_checkpoint(net), path)
    elif suffix == ".safetensors":
        from safetensors.torch import save_file

        meta = {"format": "pt", "sepconv.format": SAFETENSORS_FORMAT, "sepconv.layout": "torch"}
        save_file(state, str(path), metadata=meta)
    else:
        torch.save(state, path)


def _formats() -> tuple[Any, ...]:
    from parity.converter.files import WeightFormat

    return tuple(
        WeightFormat(ext, "torch", text, load_torch, save_torch)
        for ext, text in (
            (".ckpt", "Lightning checkpoint of SepConvLitModule"),
            (".safetensors", "PyTorch-layout tensors under PyTorch keys (the exchange format)"),
            (".pt", "PyTorch state dict (torch.save)"),
            (".pth", "PyTorch state dict (torch.save)"),
        )
    )


FORMATS = _formats()
