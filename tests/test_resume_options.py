"""Resume bookkeeping without training: option conflicts, a moved run's best checkpoint, the resume line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sepconv_torch.resume import MAX_EPOCHS_KEY, RunCheckpoint, option_conflicts, run_dir
from sepconv_torch.signals import resume_command

SAVED = {
    "hyper_parameters": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.0, "nesterov": False,
                         "muon_lr": 0.02, "schedule": "constant", "warmup_epochs": 0.0,
                         "initializer": "glorot_uniform", "label_smoothing": 0.0, "channels_last": True},
    "datamodule_hyper_parameters": {"batch_size": 32, "augment": False, "seed": 0, "num_workers": 0},
    MAX_EPOCHS_KEY: 10,
}  # fmt: skip


def test_the_same_recipe_has_no_conflict() -> None:
    model, data = dict(SAVED["hyper_parameters"]), dict(SAVED["datamodule_hyper_parameters"])
    model["channels_last"], data["num_workers"] = False, 4  # speed settings, not the recipe
    assert option_conflicts(SAVED, model, data, max_epochs=20) == []  # a constant schedule has no length


def test_each_conflict_is_named_with_both_values() -> None:
    model = {**SAVED["hyper_parameters"], "momentum": 0.9, "nesterov": True, "muon_lr": 0.5}
    data = {**SAVED["datamodule_hyper_parameters"], "batch_size": 64}
    found = [str(c) for c in option_conflicts(SAVED, model, data, max_epochs=10)]
    assert found == [
        "model.momentum: checkpoint 0.0, given 0.9",
        "model.nesterov: checkpoint False, given True",
        "data.batch_size: checkpoint 32, given 64",
    ]  # muon_lr is not used by SGD


def test_a_cosine_schedule_compares_its_length_and_warm_up() -> None:
    model = {**SAVED["hyper_parameters"], "schedule": "cosine", "warmup_epochs": 1.0}
    found = [str(c) for c in option_conflicts(SAVED, model, SAVED["datamodule_hyper_parameters"], 20)]
    assert found == [
        "model.schedule: checkpoint constant, given cosine",
        "model.warmup_epochs: checkpoint 0.0, given 1.0",
        "trainer.max_epochs: checkpoint 10, given 20",
    ]


def test_run_dir() -> None:
    assert run_dir("runs/lightning_logs/version_3/checkpoints/last.ckpt") == Path(
        "runs/lightning_logs/version_3"
    )
    assert run_dir("elsewhere/model.ckpt") == Path("elsewhere")


def _state(folder: Path, best: float = 0.5) -> dict:
    b, last = folder / "best-epoch=02-val_loss=0.5000.ckpt", folder / "last.ckpt"
    return {
        "monitor": "val_loss", "best_model_score": torch.tensor(best), "best_model_path": str(b),
        "current_score": torch.tensor(0.7), "dirpath": str(folder),
        "best_k_models": {str(b): torch.tensor(best)}, "kth_best_model_path": str(b),
        "kth_value": torch.tensor(best), "last_model_path": str(last),
    }  # fmt: skip


def _callback(dirpath: Path) -> RunCheckpoint:
    callback = RunCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    callback.dirpath, callback._stage = str(dirpath), "fit"
    return callback


@pytest.mark.filterwarnings("error")
def test_a_moved_run_keeps_its_best(tmp_path: Path) -> None:
    old, new = tmp_path / "old/checkpoints", tmp_path / "new/checkpoints"
    new.mkdir(parents=True)
    for name in ("best-epoch=02-val_loss=0.5000.ckpt", "last.ckpt"):
        (new / name).touch()
    callback = _callback(new)
    callback.load_state_dict(_state(old))
    best = str(new / "best-epoch=02-val_loss=0.5000.ckpt")
    assert callback.best_model_path == best and float(callback.best_model_score) == 0.5
    assert list(callback.best_k_models) == [best] and callback.last_model_path == str(new / "last.ckpt")


@pytest.mark.filterwarnings("error")
def test_a_best_that_is_gone_is_dropped(tmp_path: Path) -> None:
    callback = _callback(tmp_path / "new")
    callback.load_state_dict(_state(tmp_path / "old"))
    assert callback.best_model_path == "" and callback.best_model_score is None and not callback.best_k_models
    assert float(callback.kth_value) == float("inf")


def test_test_and_predict_leave_the_state_alone(tmp_path: Path) -> None:
    callback = _callback(tmp_path)
    callback._stage = "test"
    callback.load_state_dict(_state(tmp_path / "elsewhere"))
    assert callback.best_model_path == "" and callback.best_model_score is None


def test_checkpoints_keep_lightnings_state_key() -> None:
    assert RunCheckpoint(monitor="val_loss").state_key.startswith("ModelCheckpoint{'monitor': 'val_loss'")


def test_resume_command_replaces_ckpt_path_and_override() -> None:
    argv = ["fit", "--config", "my recipe.yaml", "--ckpt_path", "x.ckpt", "--override", "--ckpt_path=y"]
    assert resume_command(argv, "last") == "sepconv-torch fit --config 'my recipe.yaml' --ckpt_path last"
    assert resume_command(["fit"], None) == "sepconv-torch fit"
