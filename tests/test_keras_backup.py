"""sepconv_keras.resume: each epoch's backup is written atomically, and checked (every array read, the
model's shapes) before it is trusted; a damaged latest backup falls back to the previous epoch's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import pytest

from sepconv.compat import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from sepconv_keras.model import build_model  # noqa: E402
from sepconv_keras.resume import (  # noqa: E402
    AtomicBackupAndRestore,
    adopt_backup,
    backed_up_epochs,
    expected_layout,
    inspect_backup,
)


@pytest.fixture(scope="module")
def model() -> keras.Model:
    model = build_model(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def expected(model: keras.Model) -> dict[str, tuple[int, ...]]:
    return expected_layout(model)


def _backup(tmp_path: Path, model: keras.Model, epochs: int = 2) -> Path:
    """A backup folder as two finished epochs leave it: latest (epoch 2) and .bkp (epoch 1)."""
    backup = tmp_path / "backup"
    callback = AtomicBackupAndRestore(backup)
    callback.set_model(model)
    for epoch in range(epochs):
        callback.on_epoch_end(epoch)
    return backup


def _cut(path: Path, keep: int) -> None:
    """Truncate ``path`` to ``keep`` bytes, as a kill or a full disk during the write leaves it."""
    with open(path, "r+b") as f:
        f.truncate(keep)


def test_a_save_is_stamped_and_leaves_no_partial_file(tmp_path: Path, model, expected) -> None:
    backup = _backup(tmp_path, model)
    assert sorted(p.name for p in backup.iterdir()) == [
        "latest.weights.h5",
        "latest.weights.h5.bkp",
        "training_metadata.json",
    ]
    state = inspect_backup(backup, expected)
    assert (state.source, state.epoch, state.fell_back) == (backup / "latest.weights.h5", 2, False)
    with h5py.File(backup / "latest.weights.h5.bkp") as f:
        assert f.attrs["sepconv_epoch"] == 1


@pytest.mark.parametrize("keep", [11_500, 400_000, 100])
def test_a_cut_latest_falls_back_to_the_previous(tmp_path: Path, model, expected, keep: int) -> None:
    backup = _backup(tmp_path, model)
    _cut(backup / "latest.weights.h5", keep)
    state = inspect_backup(backup, expected)
    assert state.fell_back and state.epoch == 1
    assert "latest.weights.h5: unreadable" in state.problems[0]
    adopt_backup(state)
    assert backed_up_epochs(backup) == 1
    assert inspect_backup(backup, expected).source == backup / "latest.weights.h5"
    model.load_weights(backup / "latest.weights.h5")  # what BackupAndRestore will do


def test_a_latest_missing_after_the_rename_falls_back(tmp_path: Path, model, expected) -> None:
    """Killed between renaming latest to .bkp and the new file into place."""
    backup = _backup(tmp_path, model)
    os.replace(backup / "latest.weights.h5", backup / "latest.weights.h5.bkp")
    state = inspect_backup(backup, expected)
    assert state.fell_back and state.epoch == 2


def test_the_epoch_comes_from_the_file_not_the_metadata(tmp_path: Path, model, expected) -> None:
    """Killed after the weights were renamed into place, before the metadata was rewritten."""
    backup = _backup(tmp_path, model)
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))
    state = inspect_backup(backup, expected)
    adopt_backup(state)
    assert backed_up_epochs(backup) == 2


def test_another_models_shapes_are_refused(tmp_path: Path, model, expected) -> None:
    backup = _backup(tmp_path, model, epochs=1)
    with h5py.File(backup / "latest.weights.h5", "a") as f:
        name = next(k for k in expected if k.startswith("layers/") and len(expected[k]) == 2)
        del f[name]
        f[name] = [[0.0, 1.0]]
    state = inspect_backup(backup, expected)
    assert state.source is None
    assert f"{name} has shape (1, 2), the model expects {expected[name]}" in state.problems[0]
    assert state.problems[1].endswith("latest.weights.h5.bkp: missing")


def test_both_cut_is_nothing_usable(tmp_path: Path, model, expected) -> None:
    backup = _backup(tmp_path, model)
    _cut(backup / "latest.weights.h5", 11_500)
    _cut(backup / "latest.weights.h5.bkp", 11_500)
    state = inspect_backup(backup, expected)
    assert state.exists and state.source is None and len(state.problems) == 2
    assert not inspect_backup(tmp_path / "none", expected).exists


def test_a_full_disk_during_a_save_keeps_the_previous_backup(
    tmp_path: Path, model, expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = _backup(tmp_path, model, epochs=1)
    callback = AtomicBackupAndRestore(backup)
    callback.set_model(model)

    def disk_full(filepath: str, **kwargs: object) -> None:
        Path(filepath).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save_weights", disk_full)
    with pytest.raises(OSError, match=r"the previous latest\.weights\.h5 is kept") as full:
        callback.on_epoch_end(1)
    assert full.value.errno == 28 and full.value.filename == str(backup / "latest.weights.h5")
    assert sorted(p.name for p in backup.iterdir()) == ["latest.weights.h5", "training_metadata.json"]
    assert inspect_backup(backup, expected).epoch == 1
