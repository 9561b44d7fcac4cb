"""A resumed ``sepconv-torch fit`` continues its own run: the best checkpoint is the best of all epochs.

Options that would change the training recipe of the checkpoint (optimizer, schedule, batch size, ...)
are refused with one line naming each, unless ``--override`` is given: then the given values are the
ones the optimizer runs with and the checkpoint records, and one line says so.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
import torch

from sepconv_torch import cli
from sepconv_torch.checkpoints import find_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

TINY = [
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_model_summary=false",
    "--trainer.enable_progress_bar=false",
]
RUN = "lightning_logs/version_0"


@pytest.fixture
def one_epoch(tmp_path: Path) -> Path:
    """The root of a finished 1-epoch fit (reference recipe)."""
    cli.make_cli(["fit", f"--trainer.default_root_dir={tmp_path}", "--trainer.max_epochs=1", *TINY])
    return tmp_path


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``cli_main`` in this process, leaving ``tensorflow`` importable for the other tests."""
    monkeypatch.setattr(cli, "_keep_tensorflow_out", lambda: None)
    return cli.cli_main


def test_a_worse_epoch_after_resume_is_not_best(one_epoch: Path) -> None:
    root, run = one_epoch, one_epoch / RUN
    (best_before,) = (run / "checkpoints").glob("best-*.ckpt")
    last = run / "checkpoints/last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=True)
    state["state_dict"]["net.dense2.weight"] *= (
        100  # the resumed epoch starts from, and ends at, worse weights
    )
    torch.save(state, last)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli.make_cli(
            ["fit", f"--trainer.default_root_dir={root}", "--trainer.max_epochs=2", *TINY, "--ckpt_path=last"]
        )
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "dirpath" in m or "Checkpoint directory" in m], said
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]  # continued in its own run
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["val_loss"]) > float(rows[0]["val_loss"])
    assert find_checkpoint(root, "best") == best_before
    # last.ckpt is the worse, newer epoch: a resume from it goes on from epoch 2, not 1 again
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4


def test_conflicting_options_are_refused(one_epoch: Path, main, capsys: pytest.CaptureFixture) -> None:  # type: ignore[no-untyped-def]
    last = one_epoch / RUN / "checkpoints/last.ckpt"
    before = last.read_bytes()
    status = main(
        ["fit", f"--trainer.default_root_dir={one_epoch}", "--trainer.max_epochs=2", *TINY,
         "--model.momentum=0.9", "--data.batch_size=64", "--ckpt_path=last"]
    )  # fmt: skip
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("sepconv-torch: error: ") and str(last) in line, line
    assert (
        "model.momentum: checkpoint 0.0, given 0.9" in line
        and "data.batch_size: checkpoint 32, given 64" in line
    )
    assert "model.lr" not in line and "--override" in line, line
    assert last.read_bytes() == before
    assert [p.name for p in (one_epoch / "lightning_logs").iterdir()] == ["version_0"]


def test_override_runs_and_records_the_given_options(
    one_epoch: Path, main, capsys: pytest.CaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    status = main(
        ["fit", f"--trainer.default_root_dir={one_epoch}", "--trainer.max_epochs=2", *TINY,
         "--model.momentum=0.9", "--model.lr=0.05", "--override", "--ckpt_path=last"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err[-3000:]
    said = [line for line in (captured.out + captured.err).splitlines() if "--override" in line]
    assert len(said) == 1 and "model.momentum: checkpoint 0.0, given 0.9" in said[0], said
    assert "model.lr: checkpoint 0.01, given 0.05" in said[0]
    final = torch.load(one_epoch / RUN / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 4
    assert (final["hyper_parameters"]["momentum"], final["hyper_parameters"]["lr"]) == (0.9, 0.05)
    (group,) = final["optimizer_states"][0]["param_groups"]
    assert (group["momentum"], group["lr"]) == (0.9, 0.05)  # what the optimizer ran with
    assert final["optimizer_states"][0]["state"], "the momentum buffers of the resumed steps"


def test_override_moves_the_schedule_to_the_given_rate(tmp_path: Path, main) -> None:  # type: ignore[no-untyped-def]
    """Under a cosine schedule the given ``lr`` becomes the schedule's base rate from the resumed step on."""
    cosine = ["--model.schedule=cosine", *TINY]
    cli.make_cli(["fit", f"--trainer.default_root_dir={tmp_path}", *cosine, "--trainer.max_epochs=1"])
    state = torch.load(tmp_path / RUN / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert state["lr_schedulers"][0]["base_lrs"] == [0.01]
    status = main(
        ["fit", f"--trainer.default_root_dir={tmp_path}", *cosine, "--trainer.max_epochs=2",
         "--model.lr=0.05", "--override", "--ckpt_path=last"]
    )  # fmt: skip
    assert status == 0
    final = torch.load(tmp_path / RUN / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 4 and final["lr_schedulers"][0]["base_lrs"] == [0.05]
    assert final["lr_schedulers"][0]["last_epoch"] == 4
