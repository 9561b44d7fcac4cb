"""The fast recipe over several seeds, with Muon (the recipe) and with SGD alone, in one or both CLIs.

Each run is a user's command on a copy of ``sepconv/recipes/fast.yaml`` with ``seed_everything`` (and,
for ``sgd``, ``model.optimizer: sgd``) changed; PyTorch's test accuracy comes from ``sepconv-torch test
--ckpt_path last`` after the timed fit, Keras' from its ``test_metrics.json`` (final model).

    python benchmarks/fast_seeds.py --seeds 42 1 2 --optimizers muon sgd --frameworks torch
    python benchmarks/fast_seeds.py --seeds 42 1 2 --frameworks keras
    python benchmarks/fast_seeds.py --seeds 42 1 --set lr=0.2 muon_lr=0.03   # a variant of the recipe
    python benchmarks/fast_seeds.py --seeds 42 1 2 --precisions 32-true bf16-mixed   # PyTorch's bf16

``--precisions`` sets ``trainer.precision`` (PyTorch only), for the fit and its test run alike.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epochs import BIN, test_accuracy  # the sibling benchmark's helpers

from sepconv.recipes import recipe_path


def run(framework: str, recipe: Path, out: Path) -> tuple[float, float]:
    """``(wall seconds of the fit, final test accuracy)`` of one run."""
    if framework == "torch":
        name = "sepconv-torch fit"
        command = [str(BIN / "sepconv-torch"), "fit", f"--config={recipe}"]
        command += [f"--trainer.default_root_dir={out / 'torch'}", "--trainer.enable_progress_bar=false"]
    else:
        name = "sepconv-keras train"
        command = [str(BIN / "sepconv-keras"), "train", f"--recipe={recipe}", f"--output-dir={out / 'keras'}"]
        command += ["--verbose=0"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr.strip()[-300:]}")
    return seconds, test_accuracy(name, str(recipe), out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    p.add_argument("--optimizers", nargs="+", choices=["muon", "sgd"], default=["muon"])
    p.add_argument("--frameworks", nargs="+", choices=["torch", "keras"], default=["torch"])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="model keys, e.g. lr=0.2")
    p.add_argument("--precisions", nargs="+", default=["32-true"], help="PyTorch's trainer.precision")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if "keras" in args.frameworks and args.precisions != ["32-true"]:
        p.error("--precisions other than 32-true are PyTorch's (--frameworks torch)")
    base = yaml.safe_load(recipe_path("fast").read_text())
    for item in args.set:
        name, _, value = item.partition("=")
        base["model"][name] = yaml.safe_load(value)
    rows: dict[str, list[tuple[int, float, float]]] = {}
    for seed in args.seeds:
        for optimizer, framework, precision in itertools.product(
            args.optimizers, args.frameworks, args.precisions
        ):
            with tempfile.TemporaryDirectory() as tmp:
                model = {**base["model"], "optimizer": optimizer}
                config = {**base, "seed_everything": seed, "model": model}
                if precision != "32-true":
                    config["trainer"] = {**config.get("trainer", {}), "precision": precision}
                recipe = Path(tmp) / "fast.yaml"
                recipe.write_text(yaml.safe_dump(config))
                seconds, accuracy = run(framework, recipe, Path(tmp))
            key = f"{framework} {optimizer}" + (f" {precision}" if precision != "32-true" else "")
            rows.setdefault(key, []).append((seed, seconds, accuracy))
            print(f"{key} seed {seed}: {seconds:.1f} s, test accuracy {accuracy:.4f}", file=sys.stderr)
    print("| run | seeds | test accuracy per seed | min | wall s (median) |")
    print("|---|---|---|---|---|")
    for key, runs in rows.items():
        accs = " / ".join(f"{a:.4f}" for _, _, a in runs)
        seeds = " / ".join(str(s) for s, _, _ in runs)
        wall = statistics.median(t for _, t, _ in runs)
        print(f"| {key} | {seeds} | {accs} | {min(a for _, _, a in runs):.4f} | {wall:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
