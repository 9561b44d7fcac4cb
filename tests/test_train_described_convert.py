"""A checkpoint converted from a Keras model of a description (``sepconv-convert model.keras model.ckpt``,
no hyper-parameters, the description under ``sepconv_architecture``) is accepted by ``sepconv-torch test``
and gives Keras' loss on the same presented images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from commands import run as run_command
from torch_runs import QUIET, run

from sepconv.arch import description_path, load_yaml
from sepconv.data import FashionMNISTSplits

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_converted_checkpoint_tests_as_keras_evaluates(tmp_path: Path, splits: FashionMNISTSplits) -> None:
    from sepconv_keras.arch import build_keras
    from sepconv_keras.data import presented_images

    arch = load_yaml(description_path("mobilenet_v1_025_32"))
    model = build_keras(arch, seed=3)
    model.save(tmp_path / "model.keras")
    proc = run_command("sepconv-convert", tmp_path / "model.keras", tmp_path / "model.ckpt")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = torch.load(tmp_path / "model.ckpt", map_location="cpu", weights_only=True)
    assert "hyper_parameters" not in stored and stored["sepconv_architecture"]["name"] == arch.name

    run("test", f"--ckpt_path={tmp_path / 'model.ckpt'}", "--trainer.limit_test_batches=2", *QUIET)
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())

    x = presented_images(splits, arch.input_shape)[2][:1000]
    probabilities = np.asarray(model.predict(x, batch_size=500, verbose=0), dtype=np.float64)
    keras_loss = -np.log(probabilities[np.arange(1000), splits.labels("test")[:1000]]).mean()
    assert metrics["test_loss"] == pytest.approx(keras_loss, rel=1e-5)
