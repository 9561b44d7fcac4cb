"""What ``sepconv-torch`` writes and says: epochs counted from 1, ``test`` and ``predict`` beside the run.

``test`` writes ``test_metrics.json`` into the tested checkpoint's run folder; ``test`` and ``predict``
make no new ``lightning_logs/version_N`` and warn nothing ("dirpath has changed"); every command prints
where it wrote.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from sepconv_torch.cli import make_cli

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

TINY = [
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_model_summary=false",
]
QUIET = ["--trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A 1-epoch fit (progress bar on): its root, stdout and stderr."""
    root = tmp_path_factory.mktemp("outputs")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        make_cli(["fit", f"--trainer.default_root_dir={root}", "--trainer.max_epochs=1", *TINY])
    return root, out.getvalue(), err.getvalue()


def _quietly(args: list[str]) -> list[str]:
    """Run the CLI; the messages of every warning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_cli(args)
    return [str(w.message) for w in caught]


def test_epochs_count_from_one(fitted: tuple[Path, str, str]) -> None:
    root, out, err = fitted
    version = root / "lightning_logs/version_0"
    best = [p.name for p in (version / "checkpoints").glob("best-*.ckpt")]
    assert len(best) == 1 and best[0].startswith("best-epoch=01-"), best
    bar = out + err  # rich draws on stdout, tqdm on stderr
    assert "Epoch 1/1" in bar and "Epoch 0" not in bar, bar[-2000:]
    assert [r["epoch"] for r in csv.DictReader((version / "metrics.csv").open())] == ["1"]


def test_fit_says_where_it_wrote(fitted: tuple[Path, str, str]) -> None:
    root, out, _ = fitted
    version = root / "lightning_logs/version_0"
    assert str(version / "checkpoints" / "last.ckpt") in out, out[-2000:]
    assert str(version / "learning_curves.png") in out and str(version / "metrics.csv") in out


def test_test_writes_beside_the_run_it_tested(
    fitted: tuple[Path, str, str], capsys: pytest.CaptureFixture
) -> None:
    root = fitted[0]
    version = root / "lightning_logs/version_0"
    caught = _quietly(
        [
            "test",
            f"--trainer.default_root_dir={root}",
            "--ckpt_path=best",
            "--trainer.limit_test_batches=1",
            *QUIET,
        ]
    )
    assert not [m for m in caught if "dirpath" in m], caught
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]
    written = version / "test_metrics.json"
    assert json.loads(written.read_text())["ckpt_path"].startswith(
        str(version / "checkpoints" / "best-epoch=01-")
    )
    assert not (root / "test_metrics.json").exists()
    assert str(written) in capsys.readouterr().out


def test_predict_says_where_it_wrote(fitted: tuple[Path, str, str], capsys: pytest.CaptureFixture) -> None:
    root = fitted[0]
    args = ["predict", f"--trainer.default_root_dir={root}", "--ckpt_path=last"]
    caught = _quietly([*args, "--trainer.limit_predict_batches=1", *QUIET])
    assert not [m for m in caught if "dirpath" in m], caught
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]
    out = capsys.readouterr().out
    assert str(root / "predictions.npy") in out and str(root / "predictions.csv") in out, out[-2000:]
