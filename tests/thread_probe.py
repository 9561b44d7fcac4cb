"""A callback for tests that run ``sepconv-torch`` as a real command: records PyTorch's CPU thread count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import torch

__all__ = ["ThreadLog"]


class ThreadLog(L.Callback):
    """Writes ``torch.get_num_threads()`` at every training and prediction batch to ``path`` (JSON list)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.counts: list[int] = []

    def _record(self) -> None:
        self.counts.append(torch.get_num_threads())
        self.path.write_text(json.dumps(self.counts))

    def on_train_batch_start(self, *args: Any) -> None:
        self._record()

    def on_predict_batch_start(self, *args: Any) -> None:
        self._record()
