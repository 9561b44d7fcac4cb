"""What a checkpoint must hold for each ``sepconv-torch`` command, checked before Lightning reads it.

:func:`sepconv_torch.checkpoints.check_checkpoint` establishes that the file is a readable checkpoint
with a ``state_dict``; :func:`check_contents` then refuses, with one line naming the file:

* weights that would run but compute nonsense, NaN/Inf or a non-float dtype
  (:func:`sepconv.weights.check_weights`, the one refusal every command shares), and weights of another
  model (every missing, unexpected or mis-shaped one, by ``check_checkpoint``);
* a ``{"state_dict": ...}`` saved by hand, without Lightning's ``pytorch-lightning_version``;
* for ``fit``, a checkpoint without optimizer state (``sepconv-convert``'s, or one saved with
  ``save_weights_only``), which training cannot resume from;
* stored hyper-parameters that ``SepConvLitModule`` does not take (a checkpoint of another model) or
  that the recipes' rules refuse (Lightning builds the model from them for test/validate/predict).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sepconv.errors import InputError
from sepconv.recipes import RecipeError, recipe_rules
from sepconv.weights import check_weights

__all__ = [
    "ARCHITECTURE_KEY",
    "check_contents",
    "check_hyper_parameters",
    "checkpoint_architecture",
    "stored_architecture",
    "weight_arrays",
]

#: the description a converted checkpoint (``sepconv-convert``) carries, ``to_dict`` data
ARCHITECTURE_KEY = "sepconv_architecture"

#: entries Lightning adds to the stored hyper-parameters, not arguments of the model
_LIGHTNING_HPARAMS = ("_instantiator", "_class_path")


def weight_arrays(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``{name: array}`` for :func:`check_weights`: floating tensors as float32 (NumPy has no bfloat16),
    other tensors in their own dtype, which is refused; BatchNorm's integer ``num_batches_tracked``
    is a counter, not a weight, and is left out."""
    arrays = {}
    for name, value in state_dict.items():
        if (
            name.endswith(".num_batches_tracked")
            and isinstance(value, torch.Tensor)
            and not value.is_floating_point()
        ):
            continue
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            arrays[name] = (tensor.float() if tensor.is_floating_point() else tensor).numpy()
        else:
            arrays[name] = np.asarray(value)
    return arrays


def check_hyper_parameters(path: str | os.PathLike[str], hparams: Any) -> None:
    """Every stored hyper-parameter is an argument of ``SepConvLitModule`` and passes its recipe rule."""
    from sepconv_torch.lit_module import SepConvLitModule

    if not hparams:
        return
    if not isinstance(hparams, Mapping):
        raise InputError(f"{path}: hyper_parameters is a {type(hparams).__name__}, expected a mapping")
    class_path = hparams.get("_class_path")
    ours = f"{SepConvLitModule.__module__}.{SepConvLitModule.__name__}"
    if class_path is not None and class_path != ours:
        raise InputError(f"{path}: a checkpoint of {class_path}, not of {ours}")
    accepted = set(inspect.signature(SepConvLitModule).parameters) - {"net"}
    unknown = sorted(str(k) for k in hparams if k not in accepted and k not in _LIGHTNING_HPARAMS)
    if unknown:
        raise InputError(
            f"{path}: not a checkpoint of SepConvLitModule: its hyper-parameters hold "
            f"{', '.join(map(repr, unknown))}, which SepConvLitModule does not take"
        )
    rules = recipe_rules()
    for key, value in hparams.items():
        if f"model.{key}" in rules:
            try:
                rules[f"model.{key}"][0].check(value)
            except RecipeError as e:
                raise InputError(f"{path}: stored hyper-parameter {e}") from None


def stored_architecture(checkpoint: Mapping[str, Any]) -> Any:
    """The description a checkpoint holds: its ``architecture`` hyper-parameter, else (a converted
    checkpoint, no hyper-parameters) its ``sepconv_architecture`` entry; ``None``: the reference."""
    hparams = checkpoint.get("hyper_parameters") or {}
    stored = hparams.get("architecture") if isinstance(hparams, Mapping) else None
    return stored if stored is not None else checkpoint.get(ARCHITECTURE_KEY)


def stored_model(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> Any:
    """A ``SepConvLitModule`` of the checkpoint's network (its weights to compare against)."""
    from sepconv_torch.lit_module import SepConvLitModule

    try:
        return SepConvLitModule(architecture=stored_architecture(checkpoint))
    except InputError as error:
        raise InputError(f"{path}: stored architecture: {error}") from None


def checkpoint_architecture(path: str | os.PathLike[str], checkpoint: Mapping[str, Any], model: Any) -> None:
    """``--ckpt_path``: the network is the checkpoint's. Without ``--model.architecture`` it is taken from
    the checkpoint (``model["architecture"]`` set; a converted checkpoint, which has no hyper-parameters,
    from its ``sepconv_architecture``); one that describes another network is refused."""
    from sepconv.arch import to_dict
    from sepconv.described import read_architecture

    stored = stored_architecture(checkpoint)
    given = model.get("architecture")
    if given is None:
        if stored is not None:
            model["architecture"] = stored
        return
    if stored is None or to_dict(read_architecture(given)) != to_dict(read_architecture(stored)):
        theirs = "the reference network" if stored is None else f"network {stored.get('name')!r}"
        raise InputError(
            f"{path}: holds {theirs}, not the one --model.architecture={given} describes; resume it without "
            "--model.architecture (the checkpoint's network is used)"
        )


def check_contents(
    path: str | os.PathLike[str], checkpoint: Mapping[str, Any], subcommand: str | None
) -> None:
    """Refuse ``checkpoint`` (loaded from ``path``) for ``subcommand`` (``fit``, ``test``, ...): see above."""
    from sepconv_torch.checkpoints import check_checkpoint

    check_weights(
        weight_arrays(checkpoint["state_dict"]), path, "refused before any use (every output would be wrong)"
    )
    check_checkpoint(path, stored_model(path, checkpoint))  # another model's weights: every mismatch named
    if "pytorch-lightning_version" not in checkpoint:
        raise InputError(
            f"{path}: a 'state_dict' without Lightning's bookkeeping (no 'pytorch-lightning_version'), "
            f"not a checkpoint written by Lightning; sepconv-convert {path} "
            f"{Path(path).with_suffix('.lightning.ckpt')} makes one of it"
        )
    if subcommand == "fit" and not checkpoint.get("optimizer_states"):
        raise InputError(
            f"{path}: holds the model's weights but no optimizer state (a converted model, or one saved "
            "with save_weights_only), so fit cannot resume from it; test, validate and predict can use it"
        )
    check_hyper_parameters(path, checkpoint.get("hyper_parameters"))
