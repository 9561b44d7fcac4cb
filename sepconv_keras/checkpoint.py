"""``AtomicModelCheckpoint``: Keras' ``ModelCheckpoint`` that never leaves a half-written file in place.

``keras.callbacks.ModelCheckpoint`` saves straight into its target, so a process killed during the save
(or a full disk) leaves a truncated ``best.keras`` where the last good one was. This subclass lets Keras
write a private sibling file (:func:`sepconv.paths.private_temp`: same directory, same suffix, so the
same format, and a name unique to the process, so two runs never write into one file), flushes it to
disk and renames it over the target: the target is always either the previous complete file or the new
complete file. A save that raises removes its partial file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from sepconv.paths import commit, private_temp
from sepconv_keras.h5files import abandon_h5, full_disk

__all__ = ["AtomicModelCheckpoint"]


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` (same arguments and behaviour) whose every save is a write then a rename."""

    def _save_model(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> None:
        target = Path(self._get_file_path(epoch, batch, logs))
        partial = private_temp(target)
        filepath = self.filepath
        self.filepath = str(partial)  # Keras decides whether to save, then writes here
        try:
            super()._save_model(epoch, batch, logs)
            if partial.exists():  # saved this time (save_best_only may have skipped it)
                commit(partial, target)
        except BaseException as error:
            abandon_h5(partial)  # a legacy .h5 save leaves its file open on error; also removes it
            full_disk(target, error)
            raise
        finally:
            self.filepath = filepath
