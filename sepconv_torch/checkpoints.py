"""Finding and checking a previous run's checkpoints, so ``--ckpt_path best|last`` works in a new process.

Lightning resolves ``"best"``/``"last"`` only from the ``ModelCheckpoint`` of
the current process (a new run logs into a new ``version_N``). The CLI resolves
them from disk instead: the newest ``**/checkpoints/last.ckpt`` under the
root directory, and the best path recorded in that checkpoint's
``ModelCheckpoint`` state. :func:`check_checkpoint` refuses, naming the file
(and the layer), a checkpoint that is missing, unreadable, or of another model.

:class:`AtomicCheckpointIO` writes every checkpoint to a temporary file in the
target's directory, flushes it to disk and renames it over the target, so a
kill at any moment leaves either the previous or the new checkpoint, whole.
"""

from __future__ import annotations

import errno
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from torch import nn

from sepconv.errors import InputError, no_space_error

__all__ = ["AtomicCheckpointIO", "check_checkpoint", "find_checkpoint"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``<dir>/.<name>.*.tmp``, ``fsync``, then ``os.replace`` onto ``<dir>/<name>``.

    (Lightning's own writer stages the file in the system temp directory and moves it, which is a
    copy in place when that directory is on another file system.)
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"AtomicCheckpointIO.save_checkpoint: storage_options are not supported ({path})")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it private)
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as error:
            Path(tmp).unlink(missing_ok=True)
            full = no_space_error(error)
            if full is not None and not full.filename:  # torch.save says "unexpected pos": name the file
                raise OSError(errno.ENOSPC, f"the previous {target.name} is kept", str(target)) from error
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash of the machine
        finally:
            os.close(dir_fd)


def _best_from_last(last: Path) -> Path | None:
    state = check_checkpoint(last)
    for key, value in state.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and value.get("best_model_path"):
            best = Path(value["best_model_path"])
            if not best.is_absolute():
                best = last.parent / best.name
            if best.is_file():
                return best
    return None


def find_checkpoint(root: str | Path, which: str) -> Path:
    """The ``best`` or ``last`` checkpoint of the newest run under ``root``; ``FileNotFoundError`` if none."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', received {which!r}")
    lasts = sorted(Path(root).glob("**/checkpoints/last.ckpt"), key=lambda p: (p.stat().st_mtime_ns, str(p)))
    if not lasts:
        raise FileNotFoundError(
            f"ckpt_path={which!r}: no checkpoints/last.ckpt under {Path(root).resolve()}; "
            "run `sepconv-torch fit` with the same --trainer.default_root_dir first, or pass a path"
        )
    last = lasts[-1]
    if which == "last":
        return last
    best = _best_from_last(last)
    if best is None:
        candidates = sorted(p for p in last.parent.glob("*.ckpt") if p.name != "last.ckpt")
        if not candidates:
            raise FileNotFoundError(f"ckpt_path='best': no best checkpoint beside {last}")
        best = candidates[-1]
    return best


#: Keras model and weight files, which a PyTorch checkpoint path must not be
KERAS_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5")


def _why(error: BaseException) -> str:
    """The gist of torch.load's long messages: the unpickler's complaint, or the first sentence."""
    text = " ".join(str(error).split())
    if "WeightsUnpickler error:" in text:
        gist = text.split("WeightsUnpickler error:", 1)[1].split(" Check the documentation", 1)[0].strip()
        return f"not a checkpoint, or one holding objects other than tensors: {gist}"
    return text.split(". ", 1)[0][:200]


def check_checkpoint(path: str | Path, module: nn.Module | None = None) -> dict[str, Any]:
    """Load ``path`` safely (``weights_only``) and check it is a Lightning checkpoint of ``module``.

    Returns the checkpoint; raises :class:`InputError` naming the file, and for a
    different model every missing, unexpected or mis-shaped weight (expected vs found).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ckpt_path {str(path)!r}: no such checkpoint file")
    keras_suffix = next((s for s in KERAS_SUFFIXES if path.name.lower().endswith(s)), None)
    if keras_suffix is not None:
        stem = path.name[: -len(keras_suffix)]
        raise InputError(
            f"{path}: a Keras model, not a Lightning checkpoint; convert it first: "
            f"sepconv-convert {path} {path.with_name(stem + '.ckpt')}"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({_why(e)})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        hint = ""
        if (
            path.suffix.lower() in (".pt", ".pth")  # what sepconv-convert reads as a state dict
            and isinstance(checkpoint, dict)
            and checkpoint
            and all(isinstance(v, torch.Tensor) for v in checkpoint.values())
        ):
            ckpt = path.with_suffix(".ckpt")
            hint = f"; it is a state dict: sepconv-convert {path} {ckpt} makes a checkpoint of it"
        raise InputError(f"{path}: not a Lightning checkpoint (no 'state_dict' entry){hint}")
    if module is not None:
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        found = {k: tuple(getattr(v, "shape", ())) for k, v in checkpoint["state_dict"].items()}
        problems = [
            f"{k}: expected shape {expected[k]}, found {found[k]}"
            for k in expected
            if k in found and expected[k] != found[k]
        ]
        problems += [f"missing {k}" for k in expected if k not in found]
        problems += [f"unexpected {k}" for k in found if k not in expected]
        if problems:
            shown = "; ".join(problems[:4]) + (
                f"; ... ({len(problems)} problems)" if len(problems) > 4 else ""
            )
            raise InputError(f"{path}: not a checkpoint of {type(module).__name__}: {shown}")
    return checkpoint
