"""Whole epochs, validation included, of ``sepconv-torch fit`` and ``sepconv-keras train``, back to back.

Each command runs as a user runs it (its own process, start-up included) for ``--epochs`` epochs of a
recipe; the two frameworks alternate for ``--rounds`` rounds and the table gives median wall seconds
per run and the ratio PyTorch / Keras.

    python benchmarks/epochs.py --recipes reference tuned --epochs 2 --rounds 1

Without ``--epochs`` each recipe runs its full length, and the table adds the test accuracy of the
final model (PyTorch: ``sepconv-torch test --ckpt_path last``, run after the timed fit and not timed;
Keras: ``test_metrics.json``, whose in-process test evaluation is inside the timed run): the
time-to-accuracy comparison, e.g. ``--recipes fast tuned``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def commands(
    recipe: str, epochs: int | None, out: Path, architecture: str | None = None
) -> dict[str, list[str]]:
    """Each framework's training command for ``recipe`` (and ``architecture``: a shipped name or a file)."""
    from sepconv.recipes import recipe_path

    torch_epochs = [f"--trainer.max_epochs={epochs}"] if epochs else []
    keras_epochs = [f"--epochs={epochs}"] if epochs else []
    torch_epochs += [f"--model.architecture={architecture}"] if architecture else []
    keras_epochs += [f"--architecture={architecture}"] if architecture else []
    return {
        "sepconv-torch fit": [
            str(BIN / "sepconv-torch"),
            "fit",
            f"--config={recipe_path(recipe)}",
            *torch_epochs,
            f"--trainer.default_root_dir={out / 'torch'}",
            "--trainer.enable_progress_bar=false",
        ],
        "sepconv-keras train": [
            str(BIN / "sepconv-keras"),
            "train",
            f"--recipe={recipe}",
            *keras_epochs,
            f"--output-dir={out / 'keras'}",
            "--verbose=0",
        ],
    }


def test_accuracy(name: str, recipe: str, out: Path) -> float:
    """The final model's test accuracy after the run ``name`` wrote into ``out``."""
    from sepconv.recipes import recipe_path

    if name == "sepconv-keras train":
        return float(json.loads((out / "keras" / "test_metrics.json").read_text())["test_accuracy"])
    command = [str(BIN / "sepconv-torch"), "test", f"--config={recipe_path(recipe)}", "--ckpt_path=last"]
    command += [f"--trainer.default_root_dir={out / 'torch'}", "--trainer.logger=false"]
    command += ["--trainer.enable_progress_bar=false"]
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"test_accuracy\W+([0-9.]+)", proc.stdout)
    if found is None:
        raise RuntimeError(f"no test_accuracy in the output of {' '.join(command)}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipes", nargs="+", default=["reference", "tuned"])
    p.add_argument("--epochs", type=int, help="epochs per run (default: each recipe's own, then test)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    from sepconv.recipes import load_recipe

    for recipe in args.recipes:
        warmup = load_recipe(recipe).warmup_epochs
        if args.epochs is not None and not warmup < args.epochs:
            p.error(
                f"recipe {recipe} warms up for {warmup} epochs: "
                f"--epochs must exceed that, received {args.epochs}"
            )
    results: dict[str, dict[str, list[float]]] = {}
    accuracies: dict[str, dict[str, list[float]]] = {}
    for recipe in args.recipes:
        results[recipe], accuracies[recipe] = {}, {}
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
                    line = f"{recipe} {name}: {seconds:.1f} s"
                    if args.epochs is None:
                        accuracies[recipe].setdefault(name, []).append(test_accuracy(name, recipe, Path(tmp)))
                        line += f", test accuracy {accuracies[recipe][name][-1]:.4f}"
                    print(line, file=sys.stderr)
    names = ("sepconv-torch fit", "sepconv-keras train")
    if args.epochs is None:
        print("| recipe | epochs | sepconv-torch fit (s) | test acc. | sepconv-keras train (s) | test acc. |")
        print("|---|---|---|---|---|---|")
        for recipe, runs in results.items():
            cells = [recipe, str(load_recipe(recipe).epochs)]
            for n in names:
                cells += [
                    f"{statistics.median(runs[n]):.1f}",
                    f"{statistics.median(accuracies[recipe][n]):.4f}",
                ]
            print("| " + " | ".join(cells) + " |")
        if len(results) > 1:
            first, *others = results
            for n in names:
                seconds = {recipe: statistics.median(runs[n]) for recipe, runs in results.items()}
                ratios = ", ".join(f"{first}/{o} {seconds[first] / seconds[o]:.2f}" for o in others)
                print(f"{n}: wall-time ratio {ratios}")
    else:
        print("| recipe | epochs | sepconv-torch fit (s) | sepconv-keras train (s) | torch / keras |")
        print("|---|---|---|---|---|")
        for recipe, runs in results.items():
            t, k = (statistics.median(runs[n]) for n in names)
            print(f"| {recipe} | {args.epochs} | {t:.1f} | {k:.1f} | {t / k:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"seconds": results, "test_accuracy": accuracies}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
