"""SIGTERM in ``sepconv-convert`` and ``sepconv-parity``: status 143, one line, nothing half-written."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import keras
import pytest

from parity.converter import cli as convert_cli
from parity.converter.files import save_weights_file
from parity.harness import cli as parity_cli
from sepconv_torch import build_model


def _terminate(*args: Any, **kwargs: Any) -> None:
    signal.raise_signal(signal.SIGTERM)


def test_convert_terminated_while_writing_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = save_weights_file(build_model(seed=0), tmp_path / "net.ckpt")
    written: list[Path] = []

    def half_written(model: keras.Model, path: str | Path, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        written.append(Path(path))
        _terminate()

    monkeypatch.setattr(keras.Model, "save", half_written)
    before = signal.getsignal(signal.SIGTERM)
    status = convert_cli.main([str(src), str(tmp_path / "net.keras")])
    assert status == 143
    assert capsys.readouterr().err.strip() == "sepconv-convert: terminated (SIGTERM)"
    assert written and written[0].parent == tmp_path  # the signal came while the file was half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.ckpt"]
    assert signal.getsignal(signal.SIGTERM) == before


def test_parity_terminated_mid_run_is_status_143(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(parity_cli, "load_setup", _terminate)
    before = signal.getsignal(signal.SIGTERM)
    status = parity_cli.main(["--json", str(tmp_path / "report.json"), "--plot", str(tmp_path / "p.png")])
    assert status == 143
    assert capsys.readouterr().err.strip() == "sepconv-parity: terminated (SIGTERM)"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before
