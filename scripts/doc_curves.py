"""Redraw docs/img/{torch,keras}-{reference,tuned}.png from the per-epoch tables in docs/recipes.md.

The tables are the runs' ``metrics.csv`` rounded to 3 decimals; the images are drawn with
:func:`sepconv.curves.plot_learning_curves`, the code that draws every run's ``learning_curves.png``, and
the titles the two commands give them. Usage: ``python scripts/doc_curves.py`` from the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path

from sepconv.curves import CURVES, plot_learning_curves

ROOT = Path(__file__).resolve().parents[1]
#: (image, title) of each table, in the order the tables appear in docs/recipes.md
IMAGES: tuple[tuple[str, str], ...] = (
    ("torch-reference.png", "sepconv (PyTorch Lightning)"),
    ("keras-reference.png", "sepconv (Keras)"),
    ("torch-tuned.png", "sepconv (PyTorch Lightning)"),
    ("keras-tuned.png", "sepconv (Keras)"),
)


def epoch_tables(text: str) -> list[list[dict[str, float]]]:
    """Each ``| epoch | 1 | 2 | ...`` table of ``text`` as one row of :data:`CURVES` per epoch."""
    tables = []
    for block in re.findall(r"^\| epoch \|.*?(?=^\s*$)", text, flags=re.M | re.S):
        rows = {}
        for line in block.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in CURVES:
                rows[cells[0]] = [float(c) for c in cells[1:]]
        epochs = len(next(iter(rows.values())))
        tables.append([{"epoch": i + 1, **{k: v[i] for k, v in rows.items()}} for i in range(epochs)])
    return tables


def main() -> None:
    tables = epoch_tables((ROOT / "docs" / "recipes.md").read_text())
    if len(tables) < len(IMAGES):
        raise SystemExit(f"docs/recipes.md: expected {len(IMAGES)} per-epoch tables, found {len(tables)}")
    for (name, title), history in zip(IMAGES, tables, strict=False):
        print(plot_learning_curves(history, ROOT / "docs" / "img" / name, title))


if __name__ == "__main__":
    main()
