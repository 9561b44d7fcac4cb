"""The seed's claim, measured: what separable convolutions buy, network beside network.

For each network (a shipped description name or a file) the table gives its parameters, its forward
MFLOP per image (``sepconv.arch.cost``, from the description, checked here against Lightning's model
summary, which counts with ``torch.utils.flop_counter``), the test accuracy after each recipe in both
frameworks (``sepconv-torch fit`` then ``test --ckpt_path last``; ``sepconv-keras train``'s
``test_metrics.json``), and the training step (batch 32) and inference (batch 256) times of Lightning and
Keras with their ratio (``benchmarks/framework_ab.py --architecture``: both frameworks in one process, in
alternating turns, so that the host's drift hits both alike; medians).

    python benchmarks/seed_claim.py --out runs/seed_claim
    python benchmarks/seed_claim.py --out runs/seed_claim --stages time table --turns 24

Stages: ``count`` (parameters and FLOPs, seconds), ``train`` (every network x recipe x framework as a
user runs it, one after another: 2 to 13 minutes each on a 2-core CPU), ``time`` and ``table``. Each
finished training is kept as ``OUT/<network>/<recipe>/<framework>.json`` beside its run folder, so a
re-run goes on where an interrupted one stopped (``--retrain`` trains again); a run that fails (a diverged
loss) is kept with its last line and shown as such. Each timing is ``OUT/<network>/framework_ab.json``
(``--threads N``: N intra-op threads per framework, for a machine other work is using). The table
(Markdown) goes to stdout and ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from epochs import commands, test_accuracy
from step_time import cpu_model

NETWORKS = ("reference", "standard", "mobilenet_v1_025_32")
RECIPES = ("reference", "tuned")
FRAMEWORKS = {"lightning": "sepconv-torch fit", "keras": "sepconv-keras train"}
#: the folder each framework's run writes under ``OUT/<network>/<recipe>`` (``epochs.commands``)
RUN_DIRS = {"lightning": "torch", "keras": "keras"}
STAGES = ("count", "train", "time", "table")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _label(network: str) -> str:
    return Path(network).stem if Path(network).suffix else network


def _recipe_order(recipe: str) -> int:
    return RECIPES.index(recipe) if recipe in RECIPES else len(RECIPES)


def _accuracy(run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    if run["test_accuracy"] is None:
        return "diverged" if "diverged" in run["failed"] else f"failed (exit {run['exit']})"
    return f"{run['test_accuracy']:.4f}"


def count(network: str) -> dict[str, Any]:
    """Parameters and forward FLOPs per image from the description, and Lightning's summary of the same."""
    from lightning.pytorch.utilities.model_summary import ModelSummary

    from sepconv.arch.cost import flops, multiply_adds
    from sepconv.described import read_architecture
    from sepconv_torch import SepConvLitModule

    arch = read_architecture(network)
    module = SepConvLitModule(architecture=network)
    summary = ModelSummary(module)
    lightning_flops = summary.total_flops / module.example_input_array.shape[0]
    if lightning_flops != flops(arch):
        raise SystemExit(
            f"seed_claim: error: {network}: the description gives {flops(arch):,} FLOPs per image, "
            f"Lightning's summary {lightning_flops:,.0f}"
        )
    return {
        "parameters": arch.count_params(),
        "flops": flops(arch),
        "lightning_summary_flops": lightning_flops,
        "multiply_adds": multiply_adds(arch),
    }


def train(network: str, recipe: str, framework: str, out: Path) -> dict[str, Any]:
    """One full training and test, as a user runs it, in ``out/<framework>``."""
    name = FRAMEWORKS[framework]
    shutil.rmtree(out / RUN_DIRS[framework], ignore_errors=True)  # an interrupted run's leftovers
    command = commands(recipe, None, out, architecture=network)[name]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    run = {"network": network, "recipe": recipe, "framework": framework, "command": " ".join(command)}
    run["seconds"] = seconds
    if proc.returncode != 0:  # a run that diverged is a result too: its last line says why
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        return run | {"test_accuracy": None, "failed": lines[-1], "exit": proc.returncode}
    return run | {"test_accuracy": test_accuracy(name, recipe, out)}


def timing(network: str, turns: int, path: Path, threads: int | None = None) -> dict[str, Any]:
    """``framework_ab.py --architecture network --turns turns``: Lightning and Keras in one process."""
    command = [sys.executable, str(Path(__file__).with_name("framework_ab.py")), "--architecture", network]
    command += ["--turns", str(turns), "--json", str(path)] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"seed_claim: error: {' '.join(command)} exited {proc.returncode}: {proc.stderr[-400:]}"
        )
    return json.loads(path.read_text())


def table(out: Path, networks: list[str], recipes: list[str]) -> str:
    """The Markdown table of whatever ``out`` holds (a missing measurement is ``-``)."""

    def load(path: Path) -> dict[str, Any] | None:
        return json.loads(path.read_text()) if path.is_file() else None

    head = ["network", "parameters", "MFLOP / image"]
    head += [f"test acc. {r} (Lightning / Keras)" for r in recipes]
    head += [
        "step ms, batch 32 (Lightning / Keras = ratio)",
        "inference ms, batch 256 (Lightning / Keras = ratio)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for network in networks:
        label = _label(network)
        counted = load(out / label / "count.json") or {}
        cells = [f"`{label}`", f"{counted['parameters']:,}" if counted else "-"]
        cells.append(f"{counted['flops'] / 1e6:.2f}" if counted else "-")
        for recipe in recipes:
            runs = [load(out / label / recipe / f"{f}.json") for f in FRAMEWORKS]
            cells.append(" / ".join(_accuracy(r) for r in runs))
        timed = load(out / label / "framework_ab.json")
        for key in ("step", "infer256"):
            if timed is None:
                cells.append("-")
                continue
            t, k = timed["medians"][key]["lightning_ms"], timed["medians"][key]["keras_ms"]
            cells.append(f"{t:.2f} / {k:.2f} = **{t / k:.2f}**")
        lines.append("| " + " | ".join(cells) + " |")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    timed = [load(out / _label(n) / "framework_ab.json") for n in networks]
    settings = sorted({(len(t.get("turns", [])), t.get("threads")) for t in timed if t}, key=str)
    lines.append("")
    for turns, threads in settings:
        lines.append(
            f"timing: both frameworks in one process, medians over {turns} alternating turns, "
            f"{threads or 'default'} threads per framework"
        )
    steal = [100 * t["host"]["steal"] for t in timed if t and t.get("host")]
    if steal:
        lines.append(
            f"host: {min(steal):.0f}-{max(steal):.0f} % of CPU time stolen by the hypervisor while timing"
        )
    lines.append(
        f"{date.today().isoformat()}, {cpu_model()} ({os.cpu_count()} cores), commit {commit or '?'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/seed_claim"), help="where runs and results go")
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), help="shipped names or description files")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES))
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    p.add_argument("--turns", type=int, default=12, help="alternating timing turns (default 12)")
    p.add_argument("--threads", type=int, help="intra-op threads of both frameworks while timing")
    p.add_argument("--retrain", action="store_true", help="train again what OUT already holds")
    args = p.parse_args(argv)
    from sepconv.described import read_architecture
    from sepconv.recipes import load_recipe

    for network in args.networks:
        try:
            read_architecture(network)
        except Exception as error:
            p.error(f"--networks: {error}")
    for recipe in args.recipes:
        try:
            load_recipe(recipe)
        except Exception as error:
            p.error(f"--recipes: {error}")
    for network in args.networks:
        if "count" in args.stages:
            _write_json(args.out / _label(network) / "count.json", count(network))
    if "train" in args.stages:  # recipe by recipe: the first recipe's whole row comes first
        for recipe in args.recipes:
            for network in args.networks:
                for framework in FRAMEWORKS:
                    result = args.out / _label(network) / recipe / f"{framework}.json"
                    if result.is_file() and not args.retrain:
                        continue
                    found = train(network, recipe, framework, args.out / _label(network) / recipe)
                    _write_json(result, found)
                    print(
                        f"{_label(network)} {recipe} {framework}: {found['seconds']:.0f} s, "
                        f"test accuracy {_accuracy(found)}",
                        found.get("failed", ""),
                        file=sys.stderr,
                    )
    if "time" in args.stages:
        for network in args.networks:
            timing(network, args.turns, args.out / _label(network) / "framework_ab.json", args.threads)
    if "table" in args.stages:
        text = table(args.out, args.networks, sorted(args.recipes, key=_recipe_order))
        (args.out / "table.md").write_text(text + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
