"""Running the real console scripts in a fresh process, and checking that a refusal is one line."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def run(
    prog: str, *args: str | Path, env: dict[str, str | None] | None = None, python: list[str] | None = None
):
    """Run a console script (or ``python [flags] -m module``) from the venv, in this worktree.

    ``env`` adds variables to the environment; a ``None`` value removes one.
    """
    command = python or [str(Path(sys.executable).with_name(prog))]
    environ = {k: v for k, v in os.environ.items() if k != "SEPCONV_DEBUG"}
    for key, value in {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=environ, timeout=300, check=False
    )


def assert_refused(proc: subprocess.CompletedProcess, prog: str, *fragments: str, status: int = 2) -> str:
    """Exit ``status``; stderr is one line ``<prog>: error: ...`` holding every fragment; no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == status, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def keras_train(directory: Path | None, tmp_path: Path, *extra: str) -> list[str]:
    """``sepconv-keras`` arguments of a quiet run writing under ``tmp_path/out``."""
    data = ["--data-dir", str(directory)] if directory is not None else []
    return ["train", *data, "--output-dir", str(tmp_path / "out"), "--verbose", "0", *extra]


def benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (with ``benchmarks/`` on the path for its own imports),
    so a test can call the driver's functions without running it."""
    script = ROOT / "benchmarks" / f"{name}.py"
    if str(script.parent) not in sys.path:
        sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
