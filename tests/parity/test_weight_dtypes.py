"""sepconv-convert and sepconv-parity refuse non-float weights (an int32 kernel would be truncated to
zeros and cast silently into the float model), naming the file and each weight, before any output."""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import pytest
import torch

from parity.converter.cli import main as convert_main
from parity.harness import cli as parity_cli


@pytest.fixture()
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if sepconv-parity's long run starts."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suite ran")

    monkeypatch.setattr(parity_cli, "run_suite", refuse)


def int32_h5(model: keras.Model, path: Path) -> Path:
    """``model`` saved as a legacy ``.h5`` whose every weight is then rewritten as int32."""
    model.save(path)
    with h5py.File(path, "r+") as f:
        names: list[str] = []
        f["model_weights"].visit(
            lambda n: names.append(n) if isinstance(f["model_weights"][n], h5py.Dataset) else None
        )
        for name in names:
            values = f["model_weights"][name][()]
            del f["model_weights"][name]
            f["model_weights"].create_dataset(name, data=(values * 100).astype("int32"))
    return path


def int32_pt(model: keras.Model, path: Path) -> Path:
    """``model``'s PyTorch state dict with ``conv1.weight`` as int32, saved with ``torch.save``."""
    from parity import keras_to_torch

    state = keras_to_torch(model).state_dict()
    state["conv1.weight"] = (state["conv1.weight"] * 100).to(torch.int32)
    torch.save(state, path)
    return path


CASES = {
    ".h5": (int32_h5, "conv1/kernel: dtype int32, expected floating point", "and 18 more"),
    ".pt": (int32_pt, "conv1.weight: dtype int32, expected floating point", ""),
}


@pytest.mark.parametrize("suffix", list(CASES))
def test_convert_refuses_int32_weights(
    suffix: str, tmp_path: Path, random_model: keras.Model, capsys: pytest.CaptureFixture[str]
) -> None:
    make, named, more = CASES[suffix]
    src = make(random_model, tmp_path / f"int{suffix}")
    dst = tmp_path / ("out.pt" if suffix == ".h5" else "out.keras")
    assert convert_main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sepconv-convert: error: {src}: unusable weights: {named}"), err
    assert more in err and err.endswith("; the converted model would be as broken, not written"), err
    assert len(err.splitlines()) == 1 and not dst.exists()


@pytest.mark.parametrize("suffix", list(CASES))
def test_parity_refuses_int32_weights(
    suffix: str, tmp_path: Path, random_model: keras.Model, no_run: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make, named, more = CASES[suffix]
    src = make(random_model, tmp_path / f"int{suffix}")
    option = "--keras" if suffix == ".h5" else "--torch"
    assert parity_cli.main([option, str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sepconv-parity: error: {src}: unusable weights: {named}"), err
    assert more in err and err.endswith("; parity of a broken model says nothing about the port"), err
    assert len(err.splitlines()) == 1
