"""Finding the mapping's weights in a PyTorch network, LightningModule or state dict.

A LightningModule's network is its ``net`` attribute, and a state dict whose
keys all start with ``net.`` (a Lightning checkpoint's) loses that prefix.
Keys are matched by name when the network uses the mapping's names. A network
or state dict with other names (a hand-written port) is matched by position
only when it has exactly one tensor per row and every shape is the row's; the
match is then logged, key by key. Otherwise its keys count as missing and its
tensors as unexpected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from parity.converter.mapping import Row
from parity.converter.slots import Slot, SlotMatch

__all__ = ["PREFIX", "network_of", "strip_prefix", "torch_dtype_name", "torch_slots"]

PREFIX = "net."
log = logging.getLogger(__name__)


def network_of(obj: nn.Module) -> nn.Module:
    """The network inside a LightningModule-like wrapper (its ``net`` attribute), else ``obj`` itself."""
    net = getattr(obj, "net", None)
    return net if isinstance(net, nn.Module) else obj


def strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` without the ``net.`` prefix of a Lightning checkpoint (when every key has it)."""
    if state and all(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX) :]: v for k, v in state.items()}
    return dict(state)


def torch_dtype_name(tensor: torch.Tensor) -> str:
    """The NumPy name of a tensor's dtype (``float32``)."""
    return str(tensor.dtype).removeprefix("torch.")


def _state_of(obj: nn.Module | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The tensors (a module's own Parameters) and the prefix its keys had."""
    if isinstance(obj, nn.Module):
        wrapped = network_of(obj)
        prefix = PREFIX if wrapped is not obj else ""
        return dict(wrapped.state_dict(keep_vars=True)), prefix  # the Parameters themselves, with .grad
    state = dict(obj.items())
    stripped = strip_prefix(state)
    return stripped, PREFIX if stripped.keys() != state.keys() else ""


def _slot(key: str, tensor: torch.Tensor, prefix: str) -> Slot:
    def read() -> np.ndarray:
        return np.array(tensor.detach().cpu().numpy(), copy=True)

    @torch.no_grad()
    def write(value: np.ndarray) -> None:
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    module, _, name = (prefix + key).rpartition(".")
    return Slot(
        f"PyTorch {prefix + key!r}",
        tuple(tensor.shape),
        torch_dtype_name(tensor),
        module,
        name,
        read,
        write,
        tensor,
    )


def _keys(state: dict[str, Any], rows: Sequence[Row]) -> list[str | None]:
    """The state key of each row: by name, or by position when every shape fits (logged), else none."""
    expected = [row.torch_key for row in rows]
    if any(key in state for key in expected):
        return list(expected)
    present = list(state)
    fits = len(present) == len(rows) and all(
        isinstance(state[k], torch.Tensor) and tuple(state[k].shape) == row.torch_shape
        for k, row in zip(present, rows, strict=True)
    )
    if not fits:
        return [None] * len(rows)
    log.warning(
        "PyTorch keys matched by position (no key has the mapping's names, every shape fits): %s",
        ", ".join(f"{k} -> {row.torch_key}" for k, row in zip(present, rows, strict=True)),
    )
    return list(present)


def torch_slots(obj: nn.Module | Mapping[str, Any], rows: Sequence[Row]) -> SlotMatch:
    """One slot per row (a shapeless slot where the network lacks it) and its unexpected tensors."""
    state, prefix = _state_of(obj)
    keys = _keys(state, rows)
    slots: list[Slot] = []
    for row, key in zip(rows, keys, strict=True):
        value = state.get(key) if key is not None else None
        if not isinstance(value, torch.Tensor):
            slots.append(Slot(f"PyTorch network (no {row.torch_key!r})", None))
        else:
            slots.append(_slot(key, value, prefix))
    used = {k for k in keys if k is not None}
    unexpected = tuple(
        _slot(k, v, prefix)
        if isinstance(v, torch.Tensor)
        else Slot(f"PyTorch {prefix + k!r} ({type(v).__name__})", None)
        for k, v in state.items()
        if k not in used
    )
    return SlotMatch(tuple(slots), unexpected)
