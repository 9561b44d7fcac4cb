"""Finding the mapping's weights in a PyTorch network, LightningModule or state dict.

A LightningModule's network is its ``net`` attribute, and a state dict whose
keys all start with ``net.`` (a Lightning checkpoint's) loses that prefix.
Keys are matched by name when the network uses the mapping's names (any of
them); otherwise (a hand-written port with other names) by position, as a state dict lists a
network's weights in the order its layers were defined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from parity.mapping import Row
from parity.slots import Slot, SlotMatch

__all__ = ["PREFIX", "network_of", "strip_prefix", "torch_slots"]

PREFIX = "net."


def network_of(obj: nn.Module) -> nn.Module:
    """The network inside a LightningModule-like wrapper (its ``net`` attribute), else ``obj`` itself."""
    net = getattr(obj, "net", None)
    return net if isinstance(net, nn.Module) else obj


def strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` without the ``net.`` prefix of a Lightning checkpoint (when every key has it)."""
    if state and all(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX) :]: v for k, v in state.items()}
    return dict(state)


def _state_of(obj: nn.Module | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors (a module's own Parameters) and the prefix its keys had."""
    if isinstance(obj, nn.Module):
        wrapped = network_of(obj)
        prefix = PREFIX if wrapped is not obj else ""
        return dict(wrapped.state_dict(keep_vars=True)), prefix  # the Parameters themselves, with .grad
    state = {k: v for k, v in obj.items()}
    stripped = strip_prefix(state)
    return stripped, PREFIX if stripped.keys() != state.keys() else ""


def _slot(key: str, tensor: torch.Tensor, label_prefix: str) -> Slot:
    def read() -> np.ndarray:
        return np.array(tensor.detach().cpu().numpy(), copy=True)

    @torch.no_grad()
    def write(value: np.ndarray) -> None:
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    return Slot(f"PyTorch {label_prefix + key!r}", tuple(tensor.shape), read, write, tensor)


def torch_slots(obj: nn.Module | Mapping[str, Any], rows: Sequence[Row]) -> SlotMatch:
    """One slot per row (a shapeless slot where the network lacks it) and its unexpected tensors."""
    state, prefix = _state_of(obj)
    expected = [row.torch_key for row in rows]
    if any(key in state for key in expected):
        keys: list[str | None] = list(expected)
    else:
        present = list(state)
        keys = [present[i] if i < len(present) else None for i in range(len(rows))]
    slots: list[Slot] = []
    for row, key in zip(rows, keys, strict=False):
        value = state.get(key) if key is not None else None
        if not isinstance(value, torch.Tensor):
            slots.append(Slot(f"PyTorch network (no {row.torch_key!r})", None))
        else:
            slots.append(_slot(key, value, prefix))
    used = {k for k in keys if k is not None}
    unexpected = tuple(
        f"unexpected PyTorch tensor {prefix + k!r} {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}"
        for k, v in state.items()
        if k not in used
    )
    return SlotMatch(tuple(slots), unexpected)
