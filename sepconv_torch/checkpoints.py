"""Finding a previous run's checkpoints, so ``--ckpt_path best|last`` works in a new process.

Lightning resolves ``"best"``/``"last"`` only from the ``ModelCheckpoint`` of
the current process (a new run logs into a new ``version_N``). The CLI resolves
them from disk instead: the newest ``**/checkpoints/last.ckpt`` under the
root directory, and the best path recorded in that checkpoint's
``ModelCheckpoint`` state.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["find_checkpoint"]


def _best_from_last(last: Path) -> Path | None:
    state = torch.load(last, map_location="cpu", weights_only=True)
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
    lasts = sorted(Path(root).glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
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
