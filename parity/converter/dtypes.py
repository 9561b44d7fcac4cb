"""The one dtype helper: which float type a model of either framework (or a file's arrays) holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import torch
from torch import nn

from parity.converter.stored import StoredKerasModel

__all__ = ["model_dtype"]


def _names(model: Any) -> list[str]:
    if isinstance(model, StoredKerasModel):
        return [str(a.dtype) for a in model.get_weights()]
    if isinstance(model, keras.Model):
        return [str(v.dtype) for v in model.weights]
    tensors = model.state_dict().values() if isinstance(model, nn.Module) else model.values()
    return [str(t.dtype).removeprefix("torch.") for t in tensors if isinstance(t, torch.Tensor)]


def model_dtype(model: keras.Model | StoredKerasModel | nn.Module | Mapping[str, Any]) -> str:
    """``float64`` if any of the model's weights is float64, else ``float32``."""
    return "float64" if "float64" in _names(model) else "float32"
