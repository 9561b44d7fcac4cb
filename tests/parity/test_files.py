"""sepconv-convert: every format, round trips, safe loading, one-line errors and no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import lightning as L
import numpy as np
import pytest
import torch
from parity_helpers import tutorial_model
from torch.utils.data import DataLoader, TensorDataset

import sepconv_torch
from parity.converter.cli import main
from parity.converter.files import load_weights_file
from parity.converter.files.torch_files import SAFETENSORS_FORMAT

TORCH_FORMATS = [".ckpt", ".safetensors", ".pt", ".pth"]


@pytest.fixture()
def keras_file(tmp_path: Path, random_model: keras.Model) -> Path:
    path = tmp_path / "source.keras"
    random_model.save(path)
    return path


def _same_keras(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=False))


@pytest.mark.parametrize("torch_suffix", TORCH_FORMATS)
@pytest.mark.parametrize("keras_suffix", [".keras", ".h5"])
def test_round_trip_through_every_format(
    tmp_path: Path, keras_file: Path, random_model: keras.Model, torch_suffix: str, keras_suffix: str
) -> None:
    middle, end = tmp_path / f"w{torch_suffix}", tmp_path / f"back{keras_suffix}"
    assert main([str(keras_file), str(middle)]) == 0
    assert main([str(middle), str(end)]) == 0
    assert _same_keras(random_model, load_weights_file(end))
    state = load_weights_file(middle)
    assert set(state) == set(sepconv_torch.build_model().state_dict())


def test_safetensors_metadata(tmp_path: Path, keras_file: Path) -> None:
    from safetensors import safe_open

    main([str(keras_file), str(tmp_path / "w.safetensors")])
    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        assert f.metadata()["sepconv.format"] == SAFETENSORS_FORMAT
        assert "conv1.weight" in f.keys() and f.get_slice("conv1.weight").get_shape() == [32, 1, 3, 3]  # noqa: SIM118


def test_checkpoint_loads_in_lightning(
    tmp_path: Path, keras_file: Path, random_model: keras.Model, setup
) -> None:
    ckpt = tmp_path / "w.ckpt"
    main([str(keras_file), str(ckpt)])
    module = sepconv_torch.SepConvLitModule.load_from_checkpoint(ckpt)
    x = setup.x_eval[:32]
    with torch.no_grad():
        probs = torch.softmax(module.eval()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())), -1).numpy()
    assert np.abs(probs - random_model.predict(x, verbose=0)).max() <= 1e-5
    data = DataLoader(
        TensorDataset(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(setup.y_eval[:32])),
        batch_size=32,
    )
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    metrics = trainer.test(
        sepconv_torch.SepConvLitModule(), dataloaders=data, ckpt_path=str(ckpt), verbose=False
    )
    expected = float(np.mean(probs.argmax(1) == setup.y_eval[:32]))
    assert metrics[0]["test_accuracy"] == pytest.approx(expected)


def test_mismatched_file_one_line_error_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.weights.h5"  # no config: read as the reference network (a .keras converts)
    tutorial_model(dense_units=64).save_weights(bad)
    dst = tmp_path / "out.safetensors"
    assert main([str(bad), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "PyTorch 'dense1.weight'" in err
    assert not dst.exists() and list(tmp_path.iterdir()) == [bad]


def test_refused_pickle_and_existing_dst_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"conv1.weight": torch.zeros(1), "payload": object()}, evil)
    dst = tmp_path / "out.keras"
    dst.write_bytes(b"old")
    assert main([str(evil), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(evil) in err and "refused" in err
    assert dst.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "evil.pt",
        "out.keras",
    ]


@pytest.mark.slow
def test_console_script_in_subprocess(tmp_path: Path, keras_file: Path, random_model: keras.Model) -> None:
    dst = tmp_path / "sub.pt"
    run = subprocess.run(
        [sys.executable, "-m", "parity.converter.cli", str(keras_file), str(dst)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    from parity import torch_to_keras

    assert _same_keras(random_model, torch_to_keras(torch.load(dst, weights_only=True)))


@pytest.mark.parametrize(
    ("dst", "message"),
    [
        ("missing/out.keras", "missing/out.keras: the folder {tmp}/missing does not exist"),
        ("source.keras/out.pt", "source.keras/out.pt: the folder {tmp}/source.keras is not a folder"),
        ("folder.pt", "folder.pt: is a directory, expected a file path"),
    ],
)
def test_unwritable_destination_named_before_the_source_is_read(
    tmp_path: Path, keras_file: Path, capsys: pytest.CaptureFixture[str], dst: str, message: str
) -> None:
    (tmp_path / "folder.pt").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([str(tmp_path / "never-read.keras"), str(tmp_path / dst)]) == 2  # not "no such file"
    err = capsys.readouterr().err.strip()
    assert err.startswith("sepconv-convert: error: ") and message.format(tmp=tmp_path) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_folder_that_refuses_the_file_is_named(
    tmp_path: Path, keras_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the folder passes the access check but creating the file fails (root on a read-only mount)."""
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main([str(keras_file), str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err.strip()
    dst = tmp_path / "out.pt"
    assert err == f"sepconv-convert: error: {dst}: cannot create a file in {tmp_path} (Permission denied)"


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".pt", ".safetensors", ".ckpt"])
def test_empty_source_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    empty = tmp_path / f"empty{suffix}"
    empty.touch()
    assert main([str(empty), str(tmp_path / ("out.pt" if suffix in (".keras", ".h5") else "out.keras"))]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"sepconv-convert: error: {empty}: empty file (0 bytes), expected a {suffix} weight file"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("source", [".pt", ".keras"])
def test_non_finite_weights_refused(
    tmp_path: Path, random_model: keras.Model, capsys: pytest.CaptureFixture[str], value: float, source: str
) -> None:
    from parity import keras_to_torch

    state = keras_to_torch(random_model).state_dict()
    state["sepconv3.conv_pw.bias"][[0, 5]] = value
    src = tmp_path / f"bad{source}"
    if source == ".pt":
        torch.save(state, src)
        name = "sepconv3.conv_pw.bias"
    else:
        from parity import torch_to_keras

        torch_to_keras(state).save(src)
        name = "sepconv3/bias"
    dst = tmp_path / ("out.keras" if source == ".pt" else "out.pt")
    assert main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{src}: unusable weights: {name}: NaN or Inf (2 of 64)" in err and "not written" in err, err
    assert not dst.exists()
