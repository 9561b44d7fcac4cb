"""``AtomicModelCheckpoint``: Keras' ``ModelCheckpoint`` that never leaves a half-written file in place.

``keras.callbacks.ModelCheckpoint`` saves straight into its target, so a process killed during the save
(or a full disk) leaves a truncated ``best.keras`` where the last good one was. This subclass lets Keras
write a sibling file (``.best.partial.keras``, same directory, same suffix, so the same format), flushes
it to disk and renames it over the target: the target is always either the previous complete file or the
new complete file. A save that raises removes its partial file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

__all__ = ["AtomicModelCheckpoint", "partial_path"]


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before the rename: hidden, same directory, same suffix."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` (same arguments and behaviour) whose every save is a write then a rename."""

    def _save_model(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        target = Path(self._get_file_path(epoch, batch, logs))
        partial = partial_path(target)
        filepath = self.filepath
        self.filepath = str(partial)  # Keras decides whether to save, then writes here
        try:
            super()._save_model(epoch, batch, logs)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            self.filepath = filepath
        if partial.exists():  # saved this time (save_best_only may have skipped it)
            with open(partial, "rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, target)
