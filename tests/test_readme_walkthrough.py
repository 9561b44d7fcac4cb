"""The README's walkthrough, run as a user runs it, so that it cannot go stale.

Every ``bash`` or ``python`` block marked ``<!-- walkthrough -->`` in README.md runs, command by command
and in order, in one ``bash`` in a fresh folder that holds only what a clone holds that the commands read
(the recipes) and the virtual environment as ``.venv``. Training commands get the tiny settings of
:data:`TINY` appended; everything else runs exactly as printed. Each command must exit 0, and each file the
README says a command writes must then exist.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARK = "<!-- walkthrough -->"
PY_END = "END_OF_README_PYTHON"

#: settings appended to a README command that starts with the key, so that the walkthrough takes minutes
TINY: dict[str, str] = {
    "sepconv-torch fit": "--trainer.max_epochs 2 --trainer.limit_train_batches 4 "
    "--trainer.limit_val_batches 2",
    "sepconv-torch test": "--trainer.limit_test_batches 2",
    "sepconv-keras train": "--epochs 2 --steps-per-epoch 3 --verbose 0",  # 2: tuned warms up for 1
    "sepconv-parity": "--steps 20",
}

#: files the README says the walkthrough writes: (folder, file) as the README spells them, ``version_N`` any
WRITTEN: tuple[tuple[str, str], ...] = (
    ("runs/torch/lightning_logs/version_N/", "last.ckpt"),
    ("runs/torch/lightning_logs/version_N/", "metrics.csv"),
    ("runs/torch/lightning_logs/version_N/", "learning_curves.png"),
    ("runs/torch/lightning_logs/version_N/", "test_metrics.json"),
    ("runs/torch/", "predictions.csv"),
    ("runs/torch/my_images/", "predictions.csv"),
    ("", "model.onnx"),
    ("", "model.pt2"),
    ("", "parity.json"),
    ("", "parity.png"),
    ("runs/keras/", "best.keras"),
    ("runs/keras/", "test_metrics.json"),
    ("runs/keras/my_images/", "predictions.csv"),
)


def walkthrough_commands(text: str) -> list[str]:
    """The commands of the marked blocks of ``text``, in order.

    A ``bash`` block gives one command per line (continuation lines joined, comments skipped); a ``python``
    block is one command, the block fed to ``python -``.
    """
    commands: list[str] = []
    for language, block in re.findall(
        re.escape(MARK) + r"\s*\n```(bash|python)\n(.*?)\n```", text, flags=re.S
    ):
        if language == "python":
            commands.append(f"python - <<'{PY_END}'\n{block}\n{PY_END}")
            continue
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def with_tiny_settings(command: str) -> str:
    """``command`` with :data:`TINY`'s settings for it inserted before its trailing comment, if any."""
    code, sep, comment = command.partition("  #")
    for prefix, extra in TINY.items():
        if code.startswith(prefix + " ") or code.rstrip() == prefix:
            code = f"{code.rstrip()} {extra}"
    return f"{code.rstrip()}  #{comment}" if sep else code


def script(commands: list[str]) -> str:
    """One bash script running ``commands``; the first failure prints ``walkthrough-failed I STATUS``."""
    lines = ["set -o pipefail"]
    for i, command in enumerate(commands):
        lines.append(command)
        lines.append(f'__s=$?; if [ $__s -ne 0 ]; then echo "walkthrough-failed {i} $__s" >&2; exit 1; fi')
    return "\n".join(lines) + "\n"


def user_environment() -> dict[str, str]:
    """This environment without the virtual environment on PATH: the README's activation must put it there."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "SEPCONV_DEBUG")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["PYTHONPATH"] = str(ROOT)
    return env


def fresh_folder(tmp_path: Path) -> Path:
    """A folder with the recipes and ``.venv`` (a link to this interpreter's environment), as after make."""
    work = tmp_path / "clone"
    recipes = work / "sepconv" / "recipes"
    recipes.mkdir(parents=True)
    for recipe in (ROOT / "sepconv" / "recipes").glob("*.yaml"):
        shutil.copy(recipe, recipes)
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    return work


def test_walkthrough_is_found_and_every_written_file_is_named_in_the_readme() -> None:
    """The test reads the README's walkthrough, and the files it checks are the ones the README names."""
    text = README.read_text()
    commands = walkthrough_commands(text)
    assert commands and commands[0].startswith(". .venv/bin/activate"), commands[:1]
    assert any(c.startswith("sepconv-torch fit") for c in commands)
    for folder, name in WRITTEN:
        assert folder.rstrip("/") in text and name in text, f"README.md does not name {folder}{name}"
    assert with_tiny_settings("sepconv-keras train --output-dir x  # c") == (
        f"sepconv-keras train --output-dir x {TINY['sepconv-keras train']}  # c"
    )


@pytest.mark.slow
@pytest.mark.realdata
def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """Every walkthrough command exits 0 in a fresh folder, in order, and the files it names appear."""
    commands = [with_tiny_settings(c) for c in walkthrough_commands(README.read_text())]
    work = fresh_folder(tmp_path)
    proc = subprocess.run(
        ["bash", "-c", script(commands)],
        cwd=work,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    failed = re.search(r"walkthrough-failed (\d+) (\d+)", proc.stderr)
    if failed:
        command = commands[int(failed.group(1))]
        pytest.fail(f"README command exited {failed.group(2)}: {command}\n{proc.stderr[-4000:]}")
    assert proc.returncode == 0, proc.stderr[-4000:]
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    for folder, name in WRITTEN:
        path = folder + name
        pattern = path.replace("version_N", "version_*/**")
        assert list(work.glob(pattern)), f"{path} not written; written: {written[:80]}"
    # "test and predict make no run folder of their own": the one fit made the one version_N
    runs = sorted(p.name for p in work.glob("runs/torch/lightning_logs/version_*"))
    assert len(runs) == 1, runs
    # "each command says where it wrote"
    assert proc.stdout.count("sepconv-torch: wrote ") >= 4, proc.stdout[-2000:]


def test_a_broken_command_fails_the_walkthrough(tmp_path: Path) -> None:
    """The script stops at the first failing command and names it (what the slow test relies on)."""
    proc = subprocess.run(
        ["bash", "-c", script(["true", "ls no-such-file  # comment", "touch never"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "walkthrough-failed 1 2" in proc.stderr
    assert not (tmp_path / "never").exists()
    assert shlex.split(with_tiny_settings("sepconv-parity --torch x"))[-2:] == ["--steps", "20"]
