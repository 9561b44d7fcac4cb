"""The real commands refuse bad input in one line: no traceback, a non-zero status, the culprit named.

Each case runs ``sepconv-torch`` or ``sepconv-keras`` in a fresh process, as a
user would: corrupt data files (both commands), a directory missing a file, a
bad checkpoint, a bad recipe, a bad argument value; ``--debug`` and
``SEPCONV_DEBUG=1`` bring the traceback back, and ``python -O`` changes nothing.
"""

from __future__ import annotations

import gzip
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from commands import assert_refused, keras_train, run

from sepconv.data import DEBIAN_DIR
from sepconv.data.files import FILES

# Each case starts a command in a fresh process (torch or TensorFlow imported again): the slow tier, but for
# the argument refusals the fast tier keeps (refused before TensorFlow loads, and one through LightningCLI).
pytestmark = pytest.mark.realdata

SPEC = {f.key: f for f in FILES}


def data_dir(tmp_path: Path, key: str | None = None, corrupt: Callable[[bytes], bytes] | None = None) -> Path:
    """The four files (links to the real ones), with file ``key`` replaced by ``corrupt(its bytes)``."""
    directory = tmp_path / "data"
    directory.mkdir()
    for f in FILES:
        if f.key == key and corrupt is not None:
            (directory / f.filename).write_bytes(corrupt((DEBIAN_DIR / f.filename).read_bytes()))
        else:
            (directory / f.filename).symlink_to(DEBIAN_DIR / f.filename)
    return directory


def in_content(edit: Callable[[bytearray], bytes | bytearray]) -> Callable[[bytes], bytes]:
    """A corruption of the decompressed IDX content, re-compressed."""
    return lambda raw: gzip.compress(bytes(edit(bytearray(gzip.decompress(raw)))), compresslevel=1)


def _label_42(data: bytearray) -> bytearray:
    data[-1] = 42
    return data


CORRUPTIONS = {
    "gzip-cut-to-a-third": ("train_labels", lambda raw: raw[: len(raw) // 3], "not a valid gzip file"),
    "wrong-idx-magic": (
        "test_images",
        in_content(lambda d: b"\x00\x00\x08\x04" + d[4:]),
        "bad IDX magic number",
    ),
    "label-42": ("test_labels", in_content(_label_42), "label 42 at index 9999 out of range, expected 0..9"),
    "not-gzip": ("train_images", lambda raw: b"images, honestly\n" * 100, "not a valid gzip file"),
}


def torch_fit(directory: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "fit",
        "--data.data_dir",
        str(directory),
        "--trainer.default_root_dir",
        str(tmp_path / "runs"),
        *extra,
    ]


@pytest.mark.slow
@pytest.mark.parametrize("prog", ["sepconv-torch", "sepconv-keras"])
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupt_data_is_one_line(tmp_path: Path, prog: str, case: str) -> None:
    key, corrupt, message = CORRUPTIONS[case]
    directory = data_dir(tmp_path, key, corrupt)
    args = torch_fit(directory, tmp_path) if prog == "sepconv-torch" else keras_train(directory, tmp_path)
    assert_refused(run(prog, *args), prog, str(directory / SPEC[key].filename), message)


@pytest.mark.slow
@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_every_torch_subcommand_is_one_line(tmp_path: Path, subcommand: str) -> None:
    directory = data_dir(tmp_path, "test_labels", in_content(_label_42))
    args = [subcommand, "--data.data_dir", directory, "--trainer.default_root_dir", tmp_path / "runs"]
    assert_refused(run("sepconv-torch", *args), "sepconv-torch", "t10k-labels-idx1-ubyte.gz: label 42")


@pytest.mark.slow
@pytest.mark.parametrize("prog", ["sepconv-torch", "sepconv-keras"])
@pytest.mark.parametrize("download", [False, True])
def test_explicit_dir_missing_a_file_is_refused(tmp_path: Path, prog: str, download: bool) -> None:
    """No fallback to Debian's copy: refused, or downloaded into that directory (here: unreachable)."""
    directory = data_dir(tmp_path)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    if prog == "sepconv-torch":
        args = torch_fit(directory, tmp_path, *([] if download else ["--data.download", "false"]))
    else:
        args = keras_train(directory, tmp_path, *([] if download else ["--no-download"]))
    proc = run(prog, *args, env={"SEPCONV_DATA_MIRROR": "http://127.0.0.1:9/"})
    if download:
        assert_refused(proc, prog, f"could not download t10k-labels-idx1-ubyte.gz into {directory}")
    else:
        assert_refused(
            proc, prog, f"{directory}/t10k-labels-idx1-ubyte.gz: file not found; data_dir is used alone"
        )


@pytest.mark.slow
def test_env_data_dir_is_authoritative(tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    (directory / "train-images-idx3-ubyte.gz").unlink()
    proc = run(
        "sepconv-keras",
        *keras_train(None, tmp_path, "--no-download"),
        env={"SEPCONV_DATA_DIR": str(directory)},
    )
    assert_refused(
        proc, "sepconv-keras", "train-images-idx3-ubyte.gz: file not found; $SEPCONV_DATA_DIR is used alone"
    )


@pytest.fixture
def checkpoints(tmp_path: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    truncated = tmp_path / "truncated.ckpt"
    torch.save({"state_dict": {"net.conv1.weight": torch.zeros(32, 1, 3, 3)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"net.conv1.weight": torch.zeros(16, 1, 3, 3)}}, other)
    keras_file = tmp_path / "my.model.keras"
    keras_file.write_bytes(b"PK\x03\x04")
    state_dict = tmp_path / "net.pt"
    torch.save({"net.conv1.weight": torch.zeros(32, 1, 3, 3)}, state_dict)
    weights_file = tmp_path / "net.weights.h5"
    weights_file.write_bytes(b"\x89HDF\r\n\x1a\n")
    return {
        "missing": tmp_path / "nonesuch.ckpt",
        "garbage": garbage,
        "truncated": truncated,
        "other": other,
        "keras": keras_file,
        "weights.h5": weights_file,
        "state dict": state_dict,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("missing", "nonesuch.ckpt': no such checkpoint file"),
        ("garbage", "garbage.ckpt: not a readable PyTorch checkpoint"),
        ("truncated", "truncated.ckpt: not a readable PyTorch checkpoint"),
        (
            "other",
            "other.ckpt: not a checkpoint of SepConvLitModule: "
            "net.conv1.weight: expected shape (32, 1, 3, 3), found (16, 1, 3, 3); missing net.conv1.bias",
        ),
        ("keras", "my.model.keras: a Keras model, not a Lightning checkpoint; convert it first"),
        ("weights.h5", "net.weights.h5: a Keras model, not a Lightning checkpoint"),
        ("state dict", "net.pt: not a Lightning checkpoint (no 'state_dict' entry); it is a state dict: "),
    ],
)
def test_bad_checkpoint_is_one_line(
    tmp_path: Path, checkpoints: dict[str, Path], which: str, message: str
) -> None:
    args = ["test", "--ckpt_path", checkpoints[which], "--trainer.default_root_dir", tmp_path / "runs"]
    line = assert_refused(run("sepconv-torch", *args), "sepconv-torch", message)
    if which in ("keras", "weights.h5", "state dict"):
        stem = "my.model" if which == "keras" else "net"
        assert f"sepconv-convert {checkpoints[which]} {tmp_path / stem}.ckpt" in line


@pytest.mark.slow
def test_default_root_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    args = ["fit", "--trainer.default_root_dir", tmp_path / "afile", "--trainer.max_epochs", "1"]
    message = f"--trainer.default_root_dir {tmp_path / 'afile'}: exists and is not a folder"
    assert_refused(run("sepconv-torch", *args), "sepconv-torch", message)


@pytest.fixture
def bad_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "typo.yaml"
    path.write_text("trainer:\n  max_epochs: 2\nmodel:\n  lr: 0.05\n  schedule: cosin\n")
    return path


@pytest.mark.slow
def test_misspelt_schedule_refused_by_both(tmp_path: Path, bad_recipe: Path) -> None:
    message = (
        f"{bad_recipe}: model.schedule must be one of 'constant', 'cosine', received model.schedule='cosin'"
    )
    assert_refused(run("sepconv-torch", "fit", "--config", bad_recipe), "sepconv-torch", message)
    assert_refused(
        run("sepconv-keras", *keras_train(None, tmp_path, "--recipe", bad_recipe)), "sepconv-keras", message
    )
    proc = run("sepconv-torch", "fit", "--model.schedule", "cosin")
    assert_refused(proc, "sepconv-torch", '"model.schedule"', "cosin")


@pytest.mark.parametrize(
    ("prog", "args", "message"),
    [
        ("sepconv-torch", ["fit", "--model.lr", "-1"], "model.lr must be positive, received --model.lr=-1.0"),
        pytest.param(
            "sepconv-torch",
            ["fit", "--trainer.max_epochs", "abc"],
            'Parser key "trainer.max_epochs"',
            marks=pytest.mark.slow,
        ),
        ("sepconv-keras", ["train", "--lr", "x"], "argument --lr: invalid float value: 'x'"),
        ("sepconv-keras", ["train", "--epochs", "0"], "--epochs must be positive, received 0"),
        (
            "sepconv-keras",
            ["train", "--recipe", "tuned", "--epochs", "1"],
            "model.warmup_epochs must be < trainer",
        ),
        ("sepconv-keras", ["train", "--recipe", "nonesuch"], "recipe 'nonesuch': not one of"),
    ],
)
def test_bad_argument_value_is_one_line(tmp_path: Path, prog: str, args: list[str], message: str) -> None:
    extra = ["--trainer.default_root_dir", tmp_path / "runs"] if prog == "sepconv-torch" else []
    assert_refused(run(prog, *args, *extra), prog, message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prog", "how"), [("sepconv-torch", "--debug"), ("sepconv-keras", "SEPCONV_DEBUG=1")]
)
def test_debug_shows_the_traceback(tmp_path: Path, bad_recipe: Path, prog: str, how: str) -> None:
    args = (
        ["fit", "--config", bad_recipe]
        if prog == "sepconv-torch"
        else keras_train(None, tmp_path, "--recipe", bad_recipe)
    )
    flag, env = (["--debug"], {}) if how == "--debug" else ([], {"SEPCONV_DEBUG": "1"})
    proc = run(prog, *args, *flag, env=env)
    assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr  # the status kept
    assert "sepconv.recipes.rules.RecipeError: " in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{prog}: error: ")


@pytest.mark.slow
@pytest.mark.parametrize("module", ["sepconv_torch.cli", "sepconv_keras.train"])
def test_refusals_hold_under_python_O(tmp_path: Path, bad_recipe: Path, module: str) -> None:
    """``python -O`` strips asserts: the checks are exceptions, so the refusal is the same."""
    prog = "sepconv-torch" if module == "sepconv_torch.cli" else "sepconv-keras"
    args = (
        ["fit", "--config", bad_recipe]
        if prog == "sepconv-torch"
        else keras_train(None, tmp_path, "--recipe", bad_recipe)
    )
    proc = run(prog, *args, python=[sys.executable, "-O", "-m", module])
    assert_refused(proc, prog, "model.schedule must be one of")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prog", "args", "message"),
    [
        ("sepconv-parity", ["--torch", "{tmp}/missing.ckpt"], "missing.ckpt: no such file"),
        ("sepconv-convert", ["{tmp}/missing.h5", "{tmp}/out.pt"], "missing.h5: no such file"),
        (
            "sepconv-keras",
            ["predict", "{tmp}/zip-but-no-model.keras", "--output-dir", "{tmp}/out"],
            "not a Keras model this version can load safely",
        ),
    ],
)
def test_tensorflow_start_up_lines_are_dropped(
    tmp_path: Path, prog: str, args: list[str], message: str
) -> None:
    """Refused after TensorFlow has loaded, with no ``TF_CPP_MIN_LOG_LEVEL`` set: still one line."""
    with zipfile.ZipFile(tmp_path / "zip-but-no-model.keras", "w") as archive:  # refused by Keras itself
        archive.writestr("notes.txt", "no model here")
    proc = run(prog, *(a.format(tmp=tmp_path) for a in args), env={"TF_CPP_MIN_LOG_LEVEL": None})
    assert_refused(proc, prog, message)


@pytest.mark.slow
@pytest.mark.realdata
def test_keras_training_on_a_machine_without_gpu_writes_nothing_to_stderr(tmp_path: Path) -> None:
    """No TensorFlow start-up records, no Keras notice on the asked-for .h5 and, where TensorFlow finds no
    CUDA driver, no cuInit error."""
    args = keras_train(None, tmp_path, "--epochs", "1", "--steps-per-epoch", "2", "--no-download", "--h5")
    proc = run("sepconv-keras", *args, env={"TF_CPP_MIN_LOG_LEVEL": None})
    assert proc.returncode == 0, proc.stderr[-3000:]
    if torch.cuda.device_count() == 0:
        assert proc.stderr == ""
    else:
        assert "failed call to cuInit" not in proc.stderr and "absl::InitializeLog" not in proc.stderr


@pytest.mark.slow
def test_converting_to_h5_writes_nothing_to_stderr(tmp_path: Path) -> None:
    """Keras' "You are saving your model as an HDF5 file" notice is not printed for an asked-for .h5."""
    from sepconv_torch import build_model

    torch.save(build_model(seed=0).state_dict(), tmp_path / "net.pt")
    env = {"TF_CPP_MIN_LOG_LEVEL": None}
    proc = run("sepconv-convert", tmp_path / "net.pt", tmp_path / "net.h5", env=env)
    assert proc.returncode == 0 and (tmp_path / "net.h5").is_file(), proc.stderr[-3000:]
    assert "HDF5" not in proc.stderr and "failed call to cuInit" not in proc.stderr
    if torch.cuda.device_count() == 0:
        assert proc.stderr == ""


@pytest.mark.slow
@pytest.mark.parametrize("earlier_run", [False, True], ids=["new-root", "beside-an-earlier-run"])
def test_warmup_past_a_shortened_run_is_one_line(tmp_path: Path, earlier_run: bool) -> None:
    """``--trainer.max_epochs`` on the command line after the recipe was checked: the warm-up is checked again
    when the optimizer is built (it said ``total_steps (5) must exceed warmup_steps (5)``). The refusal comes
    after the run folder was made (``config.yaml``, an event file): it is removed, an earlier run's kept."""
    from commands import ROOT

    earlier = tmp_path / "runs/lightning_logs/version_0/config.yaml"
    if earlier_run:
        earlier.parent.mkdir(parents=True)
        earlier.write_text("trainer: {}\n")
    args = ["fit", "--config", ROOT / "sepconv/recipes/tuned.yaml", "--trainer.max_epochs", "1"]
    proc = run("sepconv-torch", *args, "--trainer.default_root_dir", tmp_path / "runs")
    assert_refused(proc, "sepconv-torch", "model.warmup_epochs must be < trainer.max_epochs (1)")
    left = {str(p.relative_to(tmp_path)) for p in (tmp_path / "runs").rglob("*") if p.name != ".sepconv.lock"}
    kept = {
        "runs/lightning_logs",
        "runs/lightning_logs/version_0",
        "runs/lightning_logs/version_0/config.yaml",
    }
    assert left == (kept if earlier_run else set())


@pytest.mark.slow
@pytest.mark.realdata
def test_fit_without_validation_is_one_line(tmp_path: Path) -> None:
    """Early stopping and the best checkpoint watch val_loss: a fit that validates nothing is refused."""
    args = ["fit", "--trainer.limit_val_batches", "0", "--trainer.default_root_dir", tmp_path / "r"]
    message = (
        "--trainer.limit_val_batches 0: no validation, but --checkpoint.monitor and --early_stopping.monitor "
        "watch val_loss"
    )
    assert_refused(run("sepconv-torch", *args), "sepconv-torch", message)


@pytest.mark.slow
@pytest.mark.realdata
def test_fit_without_checkpointing_runs(tmp_path: Path) -> None:
    """``--trainer.enable_checkpointing false`` drops the CLI's own checkpoint callback (Lightning
    refused the pair: exit 3) and writes no checkpoint."""
    from torch_runs import run as torch_run

    root = tmp_path / "r"
    torch_run(
        "fit", "--trainer.enable_checkpointing=false", "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
        f"--trainer.default_root_dir={root}",
    )  # fmt: skip
    assert (root / "lightning_logs/version_0/metrics.csv").is_file()
    assert not list(root.rglob("*.ckpt"))
