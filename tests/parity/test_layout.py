"""The converter stands alone (it never imports the harness), and every module says what it holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import parity

ROOT = Path(parity.__file__).parent
MODULES = sorted(ROOT.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "converter").rglob("*.py")), ids=lambda p: p.name)
def test_converter_imports_nothing_from_the_harness(path: Path) -> None:
    assert not {m for m in _imports(path) if m.startswith("parity.harness")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_starts_with_what_it_holds(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and len(doc.splitlines()[0]) > 20


def test_the_public_entry_points() -> None:
    for name in ("keras_to_torch", "torch_to_keras", "transfer", "build_mapping", "WeightMismatchError"):
        assert callable(getattr(parity, name))
