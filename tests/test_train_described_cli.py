"""``sepconv-torch fit --model.architecture FILE`` and ``sepconv-keras train --architecture FILE`` on the
real data, tiny runs: fit, test and predict need nothing but the checkpoint; every recipe trains a
described network; the reference described in YAML has the reference's state-dict keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from commands import assert_refused
from commands import run as run_command
from torch_runs import QUIET, run

from sepconv.arch import description_path, to_dict
from sepconv.described import read_architecture
from sepconv.errors import InputError
from sepconv.recipes import recipe_path
from sepconv_torch.lit_module import SepConvLitModule

MOBILENET = description_path("mobilenet_v1_025_32")
TINY = ["--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2", "--trainer.max_epochs=1"]
LAST = "lightning_logs/version_0/checkpoints/last.ckpt"


def test_reference_description_has_the_reference_keys() -> None:
    described = SepConvLitModule(architecture=str(description_path("reference"))).state_dict()
    default = SepConvLitModule().state_dict()
    assert {k: v.shape for k, v in described.items()} == {k: v.shape for k, v in default.items()}
    assert list(described) == list(default)


def test_hparams_record_the_description_itself() -> None:
    module = SepConvLitModule(architecture=str(MOBILENET))
    assert module.hparams["architecture"] == to_dict(read_architecture(str(MOBILENET)))
    assert module.input_shape == (32, 32, 3) and tuple(module.example_input_array.shape) == (1, 3, 32, 32)
    again = SepConvLitModule(architecture=module.hparams["architecture"])  # as a checkpoint rebuilds it
    assert list(again.state_dict()) == list(module.state_dict())


@pytest.mark.slow
@pytest.mark.realdata
def test_torch_fit_test_predict_need_only_the_checkpoint(tmp_path: Path) -> None:
    run("fit", f"--model.architecture={MOBILENET}", f"--trainer.default_root_dir={tmp_path}", *TINY, *QUIET)
    ckpt = tmp_path / LAST
    stored = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert stored["hyper_parameters"]["architecture"]["name"] == "mobilenet_v1_025_32"
    assert "net.conv_dw_1_bn.running_var" in stored["state_dict"]
    # test and predict from the checkpoint alone: no --model.architecture
    run("test", f"--ckpt_path={ckpt}", "--trainer.limit_test_batches=2", "--trainer.logger=false", *QUIET)
    metrics = json.loads((ckpt.parents[1] / "test_metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    out = tmp_path / "predictions"
    run(
        "predict",
        f"--ckpt_path={ckpt}",
        "--trainer.limit_predict_batches=1",
        "--trainer.logger=false",
        f"--predictions.output_dir={out}",
        *QUIET,
    )
    probabilities = np.load(out / "predictions.npy")
    assert probabilities.shape == (500, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("recipe", ["tuned", "fast"])
def test_torch_every_recipe_trains_a_description(recipe: str, tmp_path: Path) -> None:
    run(
        "fit",
        f"--config={recipe_path(recipe)}",
        f"--model.architecture={MOBILENET}",
        f"--trainer.default_root_dir={tmp_path}",
        *TINY,
        "--trainer.max_epochs=2",  # the recipes' warm-up must be shorter than the run
        *QUIET,
    )
    before = SepConvLitModule(architecture=str(MOBILENET)).state_dict()
    stored = torch.load(tmp_path / LAST, map_location="cpu", weights_only=True)
    after = stored["state_dict"]
    assert not torch.equal(after["net.conv_pw_1.weight"], before["net.conv_pw_1.weight"])  # it trained
    # last.ckpt is rewritten when val_loss improves (Lightning's save_last): 3 or 6 steps
    assert int(after["net.conv1_bn.num_batches_tracked"]) == stored["global_step"] > 0


@pytest.mark.slow
@pytest.mark.realdata
def test_torch_resume_with_another_description_is_refused(tmp_path: Path) -> None:
    run("fit", f"--model.architecture={MOBILENET}", f"--trainer.default_root_dir={tmp_path}", *TINY, *QUIET)
    proc = run_command(
        "sepconv-torch",
        "fit",
        f"--model.architecture={description_path('standard')}",
        f"--trainer.default_root_dir={tmp_path}",
        f"--ckpt_path={tmp_path / LAST}",
        "--trainer.max_epochs=2",
    )
    assert_refused(proc, "sepconv-torch", "holds network 'mobilenet_v1_025_32'", "--model.architecture")


@pytest.mark.slow
@pytest.mark.realdata
def test_other_class_counts_are_refused_by_both_commands(tmp_path: Path) -> None:
    path = tmp_path / "seven.yaml"
    path.write_text(
        MOBILENET.read_text()
        .replace("filters: 10, kernel_size: 1", "filters: 7, kernel_size: 1")
        .replace("target_shape: [10]", "target_shape: [7]")
    )
    proc = run_command("sepconv-torch", "fit", f"--model.architecture={path}", *TINY)
    assert_refused(proc, "sepconv-torch", str(path), "has 7 classes, Fashion-MNIST has 10")
    proc = run_command("sepconv-keras", "train", "--architecture", path, "--output-dir", tmp_path / "k")
    assert_refused(proc, "sepconv-keras", str(path), "has 7 classes, Fashion-MNIST has 10")
    assert not (tmp_path / "k").exists()


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("recipe", ["reference", "tuned", "fast"])
def test_keras_train_and_predict_a_description(recipe: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_command(
        "sepconv-keras",
        "train",
        "--recipe",
        recipe,
        "--architecture",
        MOBILENET,
        "--epochs",
        "1" if recipe == "reference" else "2",  # the recipes' warm-up must be shorter than the run
        "--steps-per-epoch",
        "3",
        "--output-dir",
        out,
        "--verbose",
        "0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert 0.0 <= metrics["best_test_accuracy"] <= 1.0
    import keras

    model = keras.models.load_model(out / "best.keras", compile=False)
    assert model.input_shape == (None, 32, 32, 3) and model.layers[-1].name == "predictions"
    if recipe != "reference":
        return
    proc = run_command("sepconv-keras", "predict", out / "best.keras", "--output-dir", tmp_path / "p")
    assert proc.returncode == 0, proc.stderr[-3000:]
    probabilities = np.load(tmp_path / "p" / "predictions.npy")
    assert probabilities.shape == (10000, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_a_keras_model_file_is_a_description(tmp_path: Path) -> None:
    from sepconv_keras.arch import build_keras

    arch = read_architecture(str(MOBILENET))
    build_keras(arch).save(tmp_path / "model.keras")
    module = SepConvLitModule(architecture=str(tmp_path / "model.keras"))
    assert module.hparams["architecture"] == to_dict(arch)


def test_a_missing_file_is_named() -> None:
    with pytest.raises(InputError, match=r"^model.architecture 'nowhere.keras': no such file"):
        SepConvLitModule(architecture="nowhere.keras")
