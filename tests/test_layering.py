"""The framework-neutral core: no module of ``sepconv`` imports a framework or the parity suite."""

from __future__ import annotations

import ast
import subprocess
import sys

from commands import ROOT

#: the frameworks, and every package built on them (the core is below all of them)
FORBIDDEN = {"torch", "lightning", "tensorflow", "keras", "onnx", "parity", "sepconv_torch", "sepconv_keras"}

#: walk every module of ``sepconv`` in one fresh interpreter, then list the forbidden ones now loaded
WALK = (
    f"FORBIDDEN = {FORBIDDEN!r}\n"
    + """
import pkgutil, sys
import sepconv
for info in pkgutil.walk_packages(sepconv.__path__, "sepconv."):
    __import__(info.name)
    loaded = sorted({m.split(".")[0] for m in sys.modules} & FORBIDDEN)
    if loaded:
        print(info.name, *loaded)
print("walked", sum(1 for _ in pkgutil.walk_packages(sepconv.__path__, "sepconv.")))
"""
)


def test_sepconv_imports_neither_framework_nor_parity() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WALK], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("walked ") and int(lines[-1].split()[1]) > 10, proc.stdout
    assert lines[:-1] == [], "modules of sepconv that load a framework or parity:\n" + proc.stdout


def test_no_import_statement_in_sepconv_names_a_framework_or_parity() -> None:
    """Also the imports inside functions, which the walk above does not run (``sepconv.compat`` loads
    TensorFlow on request through ``importlib``, for the packages above it)."""
    found = []
    for path in sorted((ROOT / "sepconv").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in FORBIDDEN
            ]
    assert found == []
