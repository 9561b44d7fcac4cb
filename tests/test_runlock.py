"""sepconv.runlock: one run per output folder; the second is refused naming the first; a killed run
leaves no stale lock. Private temporary names (sepconv.paths.private_temp) differ per process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sepconv.errors import InputError
from sepconv.paths import private_temp
from sepconv.runlock import lock_run

ROOT = Path(__file__).resolve().parents[1]


def _holder(folder: Path) -> subprocess.Popen[str]:
    """Another process that locks ``folder`` and sleeps, printing "locked" once it holds the lock."""
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from sepconv.runlock import lock_run
        lock = lock_run({str(folder)!r}, "--output-dir", "sepconv-keras train --output-dir x")
        print("locked", flush=True)
        time.sleep(300)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_is_refused_naming_the_first(tmp_path: Path) -> None:
    proc = _holder(tmp_path / "out")
    try:
        with pytest.raises(InputError) as refused:
            lock_run(tmp_path / "out", "--output-dir")
        message = str(refused.value)
        assert message.startswith(
            f"--output-dir {tmp_path / 'out'}: in use by another run (pid {proc.pid} on host "
        )
        assert "started 20" in message and "`sepconv-keras train --output-dir x`" in message
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_run_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with lock_run(tmp_path, "--output-dir") as lock:
        assert f'"pid": {os.getpid()}' in lock.path.read_text()


def test_a_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    lock_run(tmp_path, "--output-dir").release()
    lock_run(tmp_path, "--output-dir").release()


def test_private_temporary_names_differ_per_process(tmp_path: Path) -> None:
    target = tmp_path / "latest.weights.h5"
    here = private_temp(target)
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from sepconv.paths import private_temp; "
    code += f"print(private_temp({str(target)!r}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = Path(done.stdout.strip())
    assert here != there != private_temp(target)
    assert here.parent == there.parent == tmp_path
    assert here.name.startswith(".latest.") and here.name.endswith(".partial.weights.h5")
    assert there.name.startswith(".latest.") and f".{os.getpid()}-" in here.name


@pytest.mark.slow
def test_sepconv_torch_fit_in_a_locked_root_is_refused(tmp_path: Path) -> None:
    """Two fits in one --trainer.default_root_dir: the second is refused before it writes anything."""
    from torch_runs import QUIET, env
    from torch_runs import command as torch_command

    root = tmp_path / "runs"
    proc = _holder(root)
    try:
        fit = torch_command("fit", "--trainer.max_epochs=1", f"--trainer.default_root_dir={root}", *QUIET)
        second = subprocess.run(fit, env=env(), capture_output=True, text=True, check=False)
    finally:
        proc.kill()
        proc.wait()
    assert second.returncode == 2, second.stderr[-2000:]
    assert second.stderr.count("\n") == 1, second.stderr
    assert f"--trainer.default_root_dir {root}: in use by another run (pid {proc.pid}" in second.stderr
    assert not (root / "lightning_logs").exists()
