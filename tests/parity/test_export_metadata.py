"""Exported ``.onnx`` and ``.pt2`` files say where they came from: the source file's name and SHA-256,
the recipe (a Lightning checkpoint's hparams) and the test accuracy of ``test_metrics.json`` beside it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import pytest
import torch

from parity.converter.cli import convert_file
from parity.converter.files.deploy import PT2_METADATA, read_metadata
from parity.converter.files.torch_files import save_torch
from sepconv_torch import build_model

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Lightning checkpoint in a run folder, with the ``test_metrics.json`` ``sepconv-torch test`` wrote."""
    run = tmp_path_factory.mktemp("runs") / "lightning_logs" / "version_0"
    ckpt = run / "checkpoints" / "best-epoch=03-val_loss=0.3100.ckpt"
    ckpt.parent.mkdir(parents=True)
    save_torch(build_model(seed=3), ckpt)
    metrics = {"test_loss": 0.33, "test_accuracy": 0.8875, "ckpt_path": str(ckpt)}
    (run / "test_metrics.json").write_text(json.dumps(metrics))
    return ckpt


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
def test_checkpoint_provenance_recorded(run_ckpt: Path, tmp_path: Path, suffix: str) -> None:
    meta = read_metadata(convert_file(run_ckpt, tmp_path / f"model{suffix}"))
    assert meta["source_file"] == run_ckpt.name and meta["source_sha256"] == sha256(run_ckpt)
    recipe = json.loads(meta["recipe"])
    hparams = torch.load(run_ckpt, weights_only=True)["hyper_parameters"]
    assert recipe["lr"] == hparams["lr"] and recipe["optimizer"] == hparams["optimizer"]
    assert float(meta["test_accuracy"]) == 0.8875


def test_onnx_metadata_props_and_another_checkpoints_accuracy(run_ckpt: Path, tmp_path: Path) -> None:
    """The metrics of another checkpoint of the same run (``last.ckpt``) are not this file's."""
    import onnx

    last = run_ckpt.with_name("last.ckpt")
    last.write_bytes(run_ckpt.read_bytes())
    props = {p.key: p.value for p in onnx.load(str(convert_file(last, tmp_path / "m.onnx"))).metadata_props}
    assert props["source_file"] == "last.ckpt" and props["source_sha256"] == sha256(last)
    assert "recipe" in props and "test_accuracy" not in props
    assert {"class_names", "mean", "std", "input"} <= set(props)


def test_state_dict_source_records_name_and_hash_only(tmp_path: Path) -> None:
    src = tmp_path / "net.pt"
    torch.save(build_model(seed=1).state_dict(), src)
    dst = convert_file(src, tmp_path / "model.pt2")
    extra = {PT2_METADATA: ""}
    torch.export.load(str(dst), extra_files=extra)
    meta = json.loads(extra[PT2_METADATA])
    assert meta == {"source_file": "net.pt", "source_sha256": sha256(src)}


def test_keras_run_folder_accuracy(tmp_path: Path, random_model: keras.Model) -> None:
    """``sepconv-keras train`` writes ``best.keras`` and ``test_metrics.json`` (``best_test_accuracy``)."""
    src = tmp_path / "out" / "best.keras"
    src.parent.mkdir()
    random_model.save(src)
    metrics = {"test_accuracy": 0.87, "best_test_accuracy": 0.891, "epochs_run": 10}
    (src.parent / "test_metrics.json").write_text(json.dumps(metrics))
    meta = read_metadata(convert_file(src, tmp_path / "model.onnx"))
    assert meta["source_file"] == "best.keras" and meta["source_sha256"] == sha256(src)
    assert float(meta["test_accuracy"]) == 0.891 and "recipe" not in meta
