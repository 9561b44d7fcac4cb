"""``AtomicModelCheckpoint``: the best checkpoint is replaced whole or not at all (error or kill mid-save)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sepconv.compat import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from sepconv_keras.checkpoint import AtomicModelCheckpoint  # noqa: E402


def _model(value: float) -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.layers[0].bias.assign([value])
    return model


def _saved_bias(path: Path) -> float:
    return float(keras.models.load_model(path, compile=False).layers[0].bias.numpy()[0])


def _checkpoint(path: Path, model: keras.Model) -> AtomicModelCheckpoint:
    callback = AtomicModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)
    callback.set_model(model)
    return callback


@pytest.mark.parametrize("name", ["best.keras", "fashion_mnist_model.h5"])
def test_saves_the_best_only_and_leaves_no_partial_file(tmp_path: Path, name: str) -> None:
    path, model = tmp_path / name, _model(1.0)
    callback = _checkpoint(path, model)
    callback.on_epoch_end(0, {"val_loss": 0.5})
    model.layers[0].bias.assign([2.0])
    callback.on_epoch_end(1, {"val_loss": 0.7})  # worse: not saved
    assert _saved_bias(path) == 1.0
    model.layers[0].bias.assign([3.0])
    callback.on_epoch_end(2, {"val_loss": 0.4})
    assert _saved_bias(path) == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_failed_save_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, model = tmp_path / "best.keras", _model(1.0)
    callback = _checkpoint(path, model)
    callback.on_epoch_end(0, {"val_loss": 0.5})

    def disk_full(filepath: str, overwrite: bool = True) -> None:
        Path(filepath).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model, "save", disk_full)
    with pytest.raises(OSError, match=r"the previous best\.keras is kept"):
        callback.on_epoch_end(1, {"val_loss": 0.1})
    assert _saved_bias(path) == 1.0
    assert not list(tmp_path.glob(".*.partial.*"))


@pytest.mark.slow
def test_a_kill_mid_save_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "best.keras"
    code = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_keras_checkpoint import _checkpoint, _model
        model = _model(1.0)
        callback = _checkpoint(Path({str(path)!r}), model)
        callback.on_epoch_end(0, {{"val_loss": 0.5}})
        def killed(filepath, overwrite=True):
            Path(filepath).write_bytes(b"PK\\x03\\x04 half a zip")
            os._exit(137)  # as kill -9: no cleanup runs
        model.save = killed
        callback.on_epoch_end(1, {{"val_loss": 0.1}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 137, proc.stderr[-2000:]
    assert _saved_bias(path) == 1.0  # the target is the last complete file
    assert list(tmp_path.glob(".best.*.partial.keras"))  # the torn write stays, under a name nothing loads
