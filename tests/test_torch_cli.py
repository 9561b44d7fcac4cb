"""``sepconv-torch`` (LightningCLI): short fits on real data, outputs, test from best, resume from last."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sepconv.classes import CLASS_NAMES
from sepconv.data import load_splits
from sepconv.recipes import load_recipe, recipe_path
from sepconv_torch.cli import make_cli

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

SHORT = [
    "--trainer.limit_train_batches=20",
    "--trainer.limit_val_batches=4",
    "--trainer.enable_progress_bar=false",
]


def fit(root: Path, *extra: str) -> None:
    make_cli(["fit", f"--trainer.default_root_dir={root}", *SHORT, *extra])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("torch-run")
    fit(root, "--trainer.max_epochs=2")
    return root


def test_fit_outputs(run_dir: Path) -> None:
    version = run_dir / "lightning_logs" / "version_0"
    ckpts = sorted(p.name for p in (version / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and any(name.startswith("best-epoch=") for name in ckpts)
    assert list(version.glob("events.out.tfevents.*"))
    assert (version / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((version / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(0 <= float(r["val_accuracy"]) <= 1 for r in rows)


def test_reference_defaults_in_checkpoint(run_dir: Path) -> None:
    ckpt = torch.load(run_dir / "lightning_logs/version_0/checkpoints/last.ckpt", weights_only=False)
    hp = ckpt["hyper_parameters"]
    assert (hp["lr"], hp["momentum"], hp["schedule"]) == (0.01, 0.0, "constant")
    assert ckpt["datamodule_hyper_parameters"]["batch_size"] == 32
    callbacks = " ".join(ckpt["callbacks"])
    assert (
        "EarlyStopping{'monitor': 'val_loss'" in callbacks
        and "ModelCheckpoint{'monitor': 'val_loss'" in callbacks
    )


@pytest.mark.parametrize("which", ["best", "last"])
def test_test_from_checkpoint_in_new_process(run_dir: Path, which: str) -> None:
    quiet = ["--trainer.logger=false", "--trainer.enable_progress_bar=false"]
    cli = make_cli(["test", f"--ckpt_path={which}", f"--trainer.default_root_dir={run_dir}", *quiet])
    metrics = cli.trainer.callback_metrics
    assert 0.0 <= float(metrics["test_accuracy"]) <= 1.0 and float(metrics["test_loss"]) > 0
    saved = json.loads((run_dir / "lightning_logs/version_0/test_metrics.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(float(metrics["test_accuracy"]))
    assert saved["ckpt_path"].endswith(".ckpt") and (which == "last") == saved["ckpt_path"].endswith(
        "last.ckpt"
    )


def test_predict_writes_probabilities(run_dir: Path) -> None:
    quiet = ["--trainer.logger=false", "--trainer.enable_progress_bar=false"]
    make_cli(["predict", "--ckpt_path=best", f"--trainer.default_root_dir={run_dir}", *quiet])
    probs = np.load(run_dir / "predictions.npy")
    assert probs.shape == (10000, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    with (run_dir / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10000 and list(rows[0])[:4] == ["index", "label", "predicted", "probability"]
    assert list(rows[0])[4:] == list(CLASS_NAMES)
    labels = load_splits(download=False).labels("test")
    assert [r["label"] for r in rows[:50]] == [CLASS_NAMES[i] for i in labels[:50]]
    for i in (0, 9999):
        assert rows[i]["predicted"] == CLASS_NAMES[int(probs[i].argmax())]
        assert float(rows[i]["probability"]) == pytest.approx(float(probs[i].max()), abs=1e-6)


def test_predict_on_a_folder_of_images(run_dir: Path, tmp_path: Path) -> None:
    """Test images saved as PNG files get the test split's probabilities, with the checkpoint's statistics."""
    from PIL import Image

    from sepconv.data import load_raw

    raw, _ = load_raw()
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (0, 1, 2):
        Image.fromarray(raw["test_images"][i]).convert("RGB").save(folder / f"img{i}.png")
    out = tmp_path / "out"
    quiet = [
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        f"--predictions.output_dir={out}",
    ]
    make_cli(["predict", "--ckpt_path=best", f"--trainer.default_root_dir={run_dir}", *quiet,
              f"--data.predict_dir={folder}"])  # fmt: skip
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert [Path(r["file"]).name for r in rows] == ["img0.png", "img1.png", "img2.png"]
    assert all(r["label"] == "" for r in rows)
    make_cli(["predict", "--ckpt_path=best", f"--trainer.default_root_dir={run_dir}", *quiet])
    np.testing.assert_allclose(np.load(out / "predictions.npy")[:3], [
        [float(r[name]) for name in CLASS_NAMES] for r in rows
    ], atol=2e-6)  # fmt: skip


def test_resume_from_last_continues(tmp_path: Path) -> None:
    fit(tmp_path, "--trainer.max_epochs=1")
    cli = make_cli(
        [
            "fit",
            f"--trainer.default_root_dir={tmp_path}",
            *SHORT,
            "--trainer.max_epochs=2",
            "--ckpt_path=last",
        ]
    )
    assert cli.trainer.current_epoch == 2 and cli.trainer.global_step == 40  # 20 steps before, 20 after
    rows = list(csv.DictReader((Path(cli.trainer.log_dir) / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]  # the curve history came back with the checkpoint


def test_missing_checkpoint_is_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no checkpoints/last\.ckpt under"):
        make_cli(
            ["test", "--ckpt_path=best", f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false"]
        )


@pytest.mark.parametrize("name", ["reference", "tuned", "fast"])
def test_recipe_files_agree_between_frameworks(name: str) -> None:
    """What LightningCLI reads from a recipe equals what the Keras side reads."""
    parsed = make_cli(["--config", str(recipe_path(name))], run=False).config
    recipe = load_recipe(name)
    assert parsed.seed_everything == recipe.seed and parsed.trainer.max_epochs == recipe.epochs
    assert parsed.data.batch_size == recipe.batch_size and parsed.data.augment == recipe.augment
    for key in ("lr", "momentum", "nesterov", "schedule", "warmup_epochs", "initializer"):
        assert parsed.model[key] == getattr(recipe, key), key


def test_console_script_print_config() -> None:
    command = [Path(sys.executable).with_name("sepconv-torch"), "fit", "--print_config"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        "max_epochs: 10" in proc.stdout and "patience: 5" in proc.stdout and "batch_size: 32" in proc.stdout
    )


def test_default_output_is_clean(tmp_path: Path) -> None:
    """No library advertising and no deprecation warnings in what a user sees from a short fit."""
    command = [
        Path(sys.executable).with_name("sepconv-torch"),
        "fit",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    command += ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert "litlogger" not in output and "Tip:" not in output
    assert "deprecated" not in output.lower(), output[-3000:]
