"""sepconv_keras.resume.recover_backup: a backup cut short by a kill falls back to the previous epoch's."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from sepconv_keras.resume import backed_up_epochs, recover_backup


def _backup(tmp_path: Path, latest_ok: bool, with_previous: bool = True) -> Path:
    backup = tmp_path / "backup"
    backup.mkdir()
    with h5py.File(backup / "latest.weights.h5.bkp" if with_previous else tmp_path / "x.h5", "w") as f:
        f["w"] = [1.0, 2.0]
    if latest_ok:
        with h5py.File(backup / "latest.weights.h5", "w") as f:
            f["w"] = [3.0, 4.0]
    else:
        (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)  # cut short
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    (backup / "training_metadata.json.bkp").write_text(json.dumps({"epoch": 1, "batch": 0}))
    return backup


def test_damaged_latest_falls_back(tmp_path: Path) -> None:
    backup = _backup(tmp_path, latest_ok=False)
    assert recover_backup(backup) is True
    with h5py.File(backup / "latest.weights.h5", "r") as f:
        assert list(f["w"][:]) == [1.0, 2.0]
    assert backed_up_epochs(backup) == 1


def test_good_latest_is_kept(tmp_path: Path) -> None:
    backup = _backup(tmp_path, latest_ok=True)
    assert recover_backup(backup) is False
    assert backed_up_epochs(backup) == 2
    assert recover_backup(tmp_path / "none") is False


def test_damaged_without_previous_is_refused(tmp_path: Path) -> None:
    backup = _backup(tmp_path, latest_ok=False, with_previous=False)
    with pytest.raises(ValueError, match=r"latest\.weights\.h5 is damaged"):
        recover_backup(backup)
