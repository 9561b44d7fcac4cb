"""sepconv-torch refuses checkpoints that would load but compute nonsense, or that Lightning refuses badly.

Each is refused in one line naming the file, before any data is read: NaN/Inf or integer weights (test,
predict, fit), a hand-saved ``{"state_dict": ...}``, a checkpoint without optimizer state given to fit,
hyper-parameters of another model or outside the recipes' rules. ``test_metrics.json`` is valid JSON even
when a finite model computes NaN.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch
from commands import assert_refused, run

from sepconv.errors import InputError
from sepconv_torch.lit_module import SepConvLitModule


def lightning_checkpoint(**entries: Any) -> dict[str, Any]:
    """A Lightning checkpoint of a fresh ``SepConvLitModule``, as ``fit`` writes it; ``entries`` replace."""
    module = SepConvLitModule()
    checkpoint = {
        "epoch": 1,
        "global_step": 10,
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": {k: v.clone() for k, v in module.state_dict().items()},
        "callbacks": {},
        "optimizer_states": [torch.optim.SGD(module.parameters(), lr=0.01).state_dict()],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": {
            **dict(module.hparams),
            "_instantiator": "lightning.pytorch.cli.instantiate_module",
        },
    }
    return {**checkpoint, **entries}


def spoiled(name: str, value: torch.Tensor) -> dict[str, Any]:
    checkpoint = lightning_checkpoint()
    checkpoint["state_dict"][name] = value
    return checkpoint


def with_hparams(**hparams: Any) -> dict[str, Any]:
    checkpoint = lightning_checkpoint()
    checkpoint["hyper_parameters"].update(hparams)
    return checkpoint


def nan_weights() -> dict[str, Any]:
    weight = torch.zeros(32, 1, 3, 3)
    weight[0, 0, 1, 1] = float("nan")
    return spoiled("net.conv1.weight", weight)


CASES = {
    "nan": (nan_weights, "nan.ckpt: unusable weights: net.conv1.weight: NaN or Inf (1 of 288)"),
    "inf": (
        lambda: spoiled("net.dense2.bias", torch.full((10,), float("inf"))),
        "inf.ckpt: unusable weights: net.dense2.bias: NaN or Inf (10 of 10)",
    ),
    "int": (
        lambda: spoiled("net.dense2.weight", torch.zeros(10, 128, dtype=torch.int32)),
        "int.ckpt: unusable weights: net.dense2.weight: dtype int32, expected floating point",
    ),
    "bare": (
        lambda: {"state_dict": lightning_checkpoint()["state_dict"]},
        "bare.ckpt: a 'state_dict' without Lightning's bookkeeping (no 'pytorch-lightning_version')",
    ),
    "other": (
        lambda: with_hparams(hidden=64),
        "other.ckpt: not a checkpoint of SepConvLitModule: its hyper-parameters hold 'hidden'",
    ),
    "bad-lr": (
        lambda: with_hparams(lr=-1.0),
        "bad-lr.ckpt: stored hyper-parameter model.lr must be positive, received model.lr=-1.0",
    ),
    "class": (
        lambda: with_hparams(_class_path="mypackage.Net"),
        "class.ckpt: a checkpoint of mypackage.Net, not of sepconv_torch.lit_module.SepConvLitModule",
    ),
}


def save(tmp_path: Path, name: str, checkpoint: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_each_bad_checkpoint_is_refused_naming_the_file(tmp_path: Path, case: str) -> None:
    from sepconv_torch.checkpoint_contents import check_contents

    make, message = CASES[case]
    path = save(tmp_path, case, make())
    for subcommand in ("test", "predict", "fit"):
        with pytest.raises(InputError) as refused:
            check_contents(path, torch.load(path, weights_only=True), subcommand)
        assert str(refused.value).startswith(f"{tmp_path}/{message}"), str(refused.value)


def test_a_checkpoint_without_optimizer_state_serves_test_but_not_fit(tmp_path: Path) -> None:
    from sepconv_torch.checkpoint_contents import check_contents

    checkpoint = lightning_checkpoint(optimizer_states=[])
    path = save(tmp_path, "converted", checkpoint)
    check_contents(path, checkpoint, "test")
    check_contents(path, checkpoint, "predict")
    with pytest.raises(
        InputError, match=r"converted\.ckpt: holds the model's weights but no optimizer state"
    ):
        check_contents(path, checkpoint, "fit")


def test_a_good_checkpoint_passes(tmp_path: Path) -> None:
    from sepconv_torch.checkpoint_contents import check_contents

    good = lightning_checkpoint()
    check_contents(save(tmp_path, "good", good), good, "fit")
    bf16 = lightning_checkpoint()
    bf16["state_dict"] = {k: v.to(torch.bfloat16) for k, v in bf16["state_dict"].items()}
    check_contents(save(tmp_path, "bf16", bf16), bf16, "test")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("subcommand", "case"),
    [
        ("test", "nan"),
        ("predict", "nan"),
        ("fit", "nan"),
        ("test", "int"),
        ("test", "bare"),
        ("fit", "bare"),
        ("test", "other"),
        ("test", "bad-lr"),
    ],
)
def test_every_command_that_loads_weights_refuses(tmp_path: Path, subcommand: str, case: str) -> None:
    make, message = CASES[case]
    path = save(tmp_path, case, make())
    root = tmp_path / "runs"
    proc = run("sepconv-torch", subcommand, "--ckpt_path", path, "--trainer.default_root_dir", root)
    assert_refused(proc, "sepconv-torch", f"{tmp_path}/{message}")
    assert not list(tmp_path.rglob("test_metrics.json")) and not list(tmp_path.rglob("predictions.*"))


@pytest.mark.slow
def test_fit_refuses_a_checkpoint_without_optimizer_state(tmp_path: Path) -> None:
    path = save(tmp_path, "converted", lightning_checkpoint(optimizer_states=[]))
    proc = run("sepconv-torch", "fit", "--ckpt_path", path, "--trainer.default_root_dir", tmp_path / "runs")
    message = f"{path}: holds the model's weights but no optimizer state (a converted model, or one saved"
    assert_refused(proc, "sepconv-torch", message)


@pytest.mark.slow
@pytest.mark.realdata
def test_test_metrics_stay_valid_json_when_a_finite_model_computes_nan(tmp_path: Path) -> None:
    """Huge but finite weights overflow to NaN logits: the metric is written as null, with the reason."""
    checkpoint = lightning_checkpoint()
    for name in ("net.dense1.weight", "net.dense2.weight"):
        checkpoint["state_dict"][name] = checkpoint["state_dict"][name] * 1e37
    path = save(tmp_path, "overflows", checkpoint)
    args = ["test", "--ckpt_path", path, "--trainer.default_root_dir", tmp_path / "runs"]
    proc = run("sepconv-torch", *args, "--trainer.limit_test_batches", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (written,) = tmp_path.rglob("test_metrics.json")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{written} holds {constant}, which is not JSON")

    metrics = json.loads(written.read_text(), parse_constant=refuse)
    assert metrics["test_loss"] is None and metrics["not_finite"] == {"test_loss": "nan"}
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["ckpt_path"] == str(path)


def test_metrics_json_writes_non_finite_values_as_null_with_the_reason() -> None:
    from sepconv.metrics_json import metrics_json

    text = metrics_json({"test_loss": float("nan"), "test_accuracy": 0.5, "other": float("-inf"), "p": "x"})
    assert json.loads(text) == {
        "test_loss": None,
        "test_accuracy": 0.5,
        "other": None,
        "p": "x",
        "not_finite": {"test_loss": "nan", "other": "-inf"},
    }
