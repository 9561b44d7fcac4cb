"""Export to ONNX and torch.export: verified before it is kept, readable by ONNX Runtime, refused cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from parity.converter.cli import convert_file, main
from parity.converter.errors import WeightFileError
from parity.converter.files import deploy
from sepconv.classes import CLASS_NAMES
from sepconv.data import FashionMNISTSplits
from sepconv_torch import build_model

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    net = build_model(seed=3, initializer="lecun_normal_dw").eval()
    path = tmp_path_factory.mktemp("src") / "net.pt"
    torch.save(net.state_dict(), path)
    return path, net


def test_onnx_runs_in_onnx_runtime_like_pytorch(
    source: tuple[Path, torch.nn.Module], splits: FashionMNISTSplits, tmp_path: Path
) -> None:
    import onnxruntime

    src, net = source
    dst = convert_file(src, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    meta = session.get_modelmeta().custom_metadata_map
    assert tuple(json.loads(meta["class_names"])) == CLASS_NAMES
    assert float(meta["mean"]) == pytest.approx(splits.mean) and float(meta["std"]) == pytest.approx(
        splits.std
    )
    images = splits.images("test", "NCHW")[-300:]  # not the verification images; batch 300: dynamic
    logits, probabilities = session.run(None, {"images": images})
    with torch.no_grad():
        expected = net(torch.from_numpy(images))
    np.testing.assert_allclose(logits, expected.numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(probabilities, torch.softmax(expected, -1).numpy(), rtol=0, atol=1e-5)


def test_pt2_exported_program(
    source: tuple[Path, torch.nn.Module], splits: FashionMNISTSplits, tmp_path: Path
) -> None:
    src, net = source
    program = torch.export.load(str(convert_file(src, tmp_path / "model.pt2"))).module()
    images = torch.from_numpy(splits.images("test", "NCHW")[:5])
    logits, probabilities = program(images)
    with torch.no_grad():
        torch.testing.assert_close(logits, net(images), rtol=0, atol=1e-5)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(5))


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
def test_a_failed_verification_writes_nothing(
    source: tuple[Path, torch.nn.Module], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(deploy, "PROBABILITY_TOL", -1.0)  # no runtime can meet it
    with pytest.raises(WeightFileError, match=r"disagrees with the PyTorch network.*not written"):
        convert_file(source[0], tmp_path / f"model{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_export_only_formats_are_refused_as_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not read")
    assert main([str(fake), str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.onnx: .onnx files are exported, not read" in err


@pytest.mark.parametrize(
    ("found", "disagreements"),
    [
        ([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], 0),  # the same argmax
        ([[0.3, 0.5, 0.2], [0.1, 0.1, 0.8]], 1),  # a different class, 0.2 below the top
        ([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]][::-1], 2),
    ],
)
def test_argmax_disagreements(found: list[list[float]], disagreements: int) -> None:
    expected = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    assert deploy.argmax_disagreements(expected, np.array(found), tie=1e-5) == disagreements


def test_argmax_ties_within_the_tolerance_are_not_disagreements() -> None:
    expected = np.array([[0.1 + 2e-8, 0.1, 0.8 - 2e-8]])[:, [0, 1]]  # two classes 2e-8 apart
    found = expected[:, ::-1].copy()  # the runtime's rounding picks the other one
    assert deploy.argmax_disagreements(expected, found, tie=1e-5) == 0
    assert deploy.argmax_disagreements(expected, found, tie=1e-9) == 1
