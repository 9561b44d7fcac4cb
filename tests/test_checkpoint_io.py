"""AtomicCheckpointIO: a write that dies half-way leaves the previous checkpoint whole and no stray files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from sepconv_torch.checkpoints import AtomicCheckpointIO


def test_save_replaces_whole_file(tmp_path: Path) -> None:
    io, path = AtomicCheckpointIO(), tmp_path / "run" / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    assert torch.load(path, weights_only=True)["step"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_interrupted_write_keeps_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)

    def dies_half_way(obj: object, f: object) -> None:
        f.write(b"PK\x03\x04 partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # as a signal arriving during the write

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
