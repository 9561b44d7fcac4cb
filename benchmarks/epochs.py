"""Whole epochs, validation included, of ``sepconv-torch fit`` and ``sepconv-keras train``, back to back.

Each command runs as a user runs it (its own process, start-up included) for ``--epochs`` epochs of a
recipe; the two frameworks alternate for ``--rounds`` rounds and the table gives median wall seconds
per run and the ratio PyTorch / Keras.

    python benchmarks/epochs.py --recipes reference tuned --epochs 2 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def commands(recipe: str, epochs: int, out: Path) -> dict[str, list[str]]:
    from sepconv.recipes import recipe_path

    return {
        "sepconv-torch fit": [
            str(BIN / "sepconv-torch"),
            "fit",
            f"--config={recipe_path(recipe)}",
            f"--trainer.max_epochs={epochs}",
            f"--trainer.default_root_dir={out / 'torch'}",
            "--trainer.enable_progress_bar=false",
        ],
        "sepconv-keras train": [
            str(BIN / "sepconv-keras"),
            "train",
            f"--recipe={recipe}",
            f"--epochs={epochs}",
            f"--output-dir={out / 'keras'}",
            "--verbose=0",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", nargs="+", default=["reference", "tuned"])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    from sepconv.recipes import load_recipe

    for recipe in args.recipes:
        warmup = load_recipe(recipe).warmup_epochs
        if not warmup < args.epochs:
            p.error(
                f"recipe {recipe} warms up for {warmup} epochs: "
                f"--epochs must exceed that, received {args.epochs}"
            )
    results: dict[str, dict[str, list[float]]] = {}
    for recipe in args.recipes:
        results[recipe] = {}
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                for name, command in commands(recipe, args.epochs, Path(tmp)).items():
                    start = time.perf_counter()
                    proc = subprocess.run(command, capture_output=True, text=True, check=False)
                    seconds = time.perf_counter() - start
                    if proc.returncode != 0:
                        print(f"epochs: error: {name} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
                        return 1
                    results[recipe].setdefault(name, []).append(seconds)
                    print(f"{recipe} {name}: {seconds:.1f} s", file=sys.stderr)
    print("| recipe | epochs | sepconv-torch fit (s) | sepconv-keras train (s) | torch / keras |")
    print("|---|---|---|---|---|")
    for recipe, runs in results.items():
        t, k = (statistics.median(runs[n]) for n in ("sepconv-torch fit", "sepconv-keras train"))
        print(f"| {recipe} | {args.epochs} | {t:.1f} | {k:.1f} | {t / k:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
