"""Lightning against Keras in one process, in alternating blocks, so that the host's drift hits both alike.

On a shared virtual machine a process's speed drifts by 20-50 % over tens of seconds (the same
PyTorch loop ran 19 ms per step in one minute and 26 ms the next, within one process): separate
processes, as ``step_time.py`` runs them, then measure the host as much as the framework. Here one
process holds both: a Keras model compiled as ``sepconv-keras train`` compiles it and a
``SepConvLitModule`` trained by a ``Trainer`` as ``sepconv-torch fit`` builds it (deterministic,
the CLI's progress bar). They take turns: each turn trains ``--block`` steps (batch 32, SGD 0.01)
in each framework and predicts ``--predict-batches`` batches of 256 test images in each, the order
within a turn swapped every turn. The first ``--warmup`` steps of each block are dropped (thread
pools waking, the other framework's caches). Prints the medians over all kept steps, the ratio
Lightning / Keras, the median and range of the per-turn ratios, and how busy the host was over the
turns: the shares of CPU time that were idle and stolen by the hypervisor (``/proc/stat``; on a shared
virtual machine steal is other tenants' work, a condition to report with the numbers).

    python benchmarks/framework_ab.py --architecture reference --turns 12
    python benchmarks/framework_ab.py --architecture mobilenet_v1_025_32 --json ab.json
    python benchmarks/framework_ab.py --architecture standard --threads 1   # beside other work

``--architecture NAME|FILE`` is a shipped name, YAML description or Keras model file, as
``sepconv-torch fit --model.architecture`` and ``sepconv-keras train --architecture`` take it; both
frameworks present the images as the description needs (:mod:`sepconv.data.present`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_time import cpu_model, keras_model, keras_step_times


def _keras(architecture: str, threads: int | None = None) -> tuple[Any, Any]:
    """``(train_turn, predict_turn)`` closures over a compiled Keras model of ``architecture``; ``threads``:
    TensorFlow's intra-op threads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sepconv.compat import import_tensorflow

    tf = import_tensorflow()
    if threads is not None:  # before TensorFlow's first op starts its thread pools
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    model, train, x_test = keras_model(architecture)

    def train_turn(steps: int) -> list[float]:
        return keras_step_times(model, train, steps)

    def predict_turn(batches: int) -> float:
        images = x_test[: 256 * batches]
        start = time.perf_counter()
        model.predict(images, batch_size=256, verbose=0)
        return (time.perf_counter() - start) / batches

    return train_turn, predict_turn


def _lightning(architecture: str, threads: int | None = None) -> tuple[Any, Any]:
    """``(train_turn, predict_turn)`` closures over one ``SepConvLitModule`` of ``architecture``; ``threads``:
    PyTorch's intra-op threads."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import TQDMProgressBar

    from sepconv_torch import FashionMNISTDataModule, SepConvLitModule
    from sepconv_torch.cli import PROGRESS_REFRESH

    if threads is not None:
        torch.set_num_threads(threads)
    L.seed_everything(0, verbose=False)
    module = SepConvLitModule(architecture=architecture)
    data = FashionMNISTDataModule(download=False, eval_batch_size=256)

    class Timer(L.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []

        def on_train_batch_start(self, *args: Any) -> None:
            self.starts.append(time.perf_counter())

        def on_train_end(self, *args: Any) -> None:
            self.starts.append(time.perf_counter())

    def trainer(**kwargs: Any) -> L.Trainer:
        return L.Trainer(
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            deterministic=True,
            accelerator="cpu",
            devices=1,
            **kwargs,
        )

    def train_turn(steps: int) -> list[float]:
        timer = Timer()
        fit = trainer(
            max_epochs=1,
            limit_train_batches=steps,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            callbacks=[timer, TQDMProgressBar(refresh_rate=PROGRESS_REFRESH)],  # the CLI's bar
        )
        fit.fit(module, datamodule=data)
        return [b - a for a, b in itertools.pairwise(timer.starts)]

    def predict_turn(batches: int) -> float:
        predict = trainer(limit_predict_batches=batches, enable_progress_bar=False)
        start = time.perf_counter()
        predict.predict(module, datamodule=data, return_predictions=False)
        return (time.perf_counter() - start) / batches

    return train_turn, predict_turn


#: the fields of ``/proc/stat``'s ``cpu`` line used here, in their order there
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_times(stat: str | None = None) -> list[int] | None:
    """The machine's CPU time by :data:`CPU_FIELDS` (clock ticks), from ``/proc/stat``'s text; None where
    there is none (not Linux)."""
    try:
        text = Path("/proc/stat").read_text() if stat is None else stat
    except OSError:
        return None
    fields = text.splitlines()[0].split() if text else []
    if len(fields) < 1 + len(CPU_FIELDS) or fields[0] != "cpu":
        return None
    return [int(x) for x in fields[1 : 1 + len(CPU_FIELDS)]]


def host_shares(start: list[int] | None, end: list[int] | None) -> dict[str, float] | None:
    """The shares of the CPU time between two :func:`cpu_times` that were idle (``idle`` + ``iowait``) and
    stolen (``steal``: the hypervisor ran other work on these CPUs)."""
    if start is None or end is None:
        return None
    spent = dict(zip(CPU_FIELDS, (b - a for a, b in zip(start, end, strict=True)), strict=True))
    total = sum(spent.values())
    if total <= 0:
        return None
    return {"idle": (spent["idle"] + spent["iowait"]) / total, "steal": spent["steal"] / total}


def _summary(ks: list[float], ls: list[float]) -> dict[str, float]:
    keras_ms, lightning_ms = 1000 * statistics.median(ks), 1000 * statistics.median(ls)
    return {"keras_ms": keras_ms, "lightning_ms": lightning_ms, "ratio": lightning_ms / keras_ms}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architecture", metavar="NAME|FILE", default="reference")
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--block", type=int, default=60, help="training steps per framework per turn")
    p.add_argument("--warmup", type=int, default=10, help="steps dropped at the start of each block")
    p.add_argument("--predict-batches", type=int, default=8, help="batches of 256 per framework per turn")
    p.add_argument("--threads", type=int, help="intra-op threads of each framework (default: theirs)")
    p.add_argument("--json", type=Path, help="write the medians and every turn's measurements as JSON")
    args = p.parse_args(argv)
    for name in ("turns", "block", "predict_batches", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, received {getattr(args, name)}")
    if not 0 <= args.warmup < args.block:
        p.error(f"--warmup must be in [0, --block), received {args.warmup} with --block {args.block}")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the CPU only, both frameworks
    for logger in ("lightning.pytorch", "lightning.fabric"):  # a Trainer per turn: no banners
        logging.getLogger(logger).setLevel(logging.WARNING)
    from sepconv.arch import ArchitectureError
    from sepconv.described import check_trainable, read_architecture
    from sepconv.errors import InputError

    try:
        name = check_trainable(read_architecture(args.architecture, "--architecture"), args.architecture).name
    except (ArchitectureError, InputError, OSError) as error:
        print(f"framework_ab: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2

    frameworks = {
        "lightning": _lightning(args.architecture, args.threads),
        "keras": _keras(args.architecture, args.threads),
    }
    steps: dict[str, list[float]] = {"keras": [], "lightning": []}
    infer: dict[str, list[float]] = {"keras": [], "lightning": []}
    turns = []
    start = cpu_times()
    for turn in range(args.turns):
        order = ["keras", "lightning"] if turn % 2 == 0 else ["lightning", "keras"]
        got: dict[str, dict[str, list[float]]] = {}
        for framework in order:
            train_turn, predict_turn = frameworks[framework]
            kept = train_turn(args.block)[args.warmup :]
            predict_turn(1)  # warm the inference path after the training block
            got[framework] = {"steps": kept, "infer": [predict_turn(args.predict_batches)]}
            steps[framework] += kept
            infer[framework] += got[framework]["infer"]
        row = {
            "step": _summary(got["keras"]["steps"], got["lightning"]["steps"]),
            "infer256": _summary(got["keras"]["infer"], got["lightning"]["infer"]),
        }
        turns.append(row)
        print(
            f"turn {turn + 1}: step {row['step']['lightning_ms']:.2f} / {row['step']['keras_ms']:.2f} ms, "
            f"inference {row['infer256']['lightning_ms']:.1f} / {row['infer256']['keras_ms']:.1f} ms",
            file=sys.stderr,
        )
    host = host_shares(start, cpu_times())
    import torch

    total = {
        "step": _summary(steps["keras"], steps["lightning"]),
        "infer256": _summary(infer["keras"], infer["lightning"]),
    }
    print(
        f"CPU: {cpu_model()}; {os.cpu_count()} logical cores; PyTorch {torch.__version__}, "
        f"capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(
        f"network: {name}; threads: {args.threads or 'default'}; one process, {args.turns} turns of "
        f"{args.block - args.warmup} kept steps (batch 32) and {args.predict_batches} batches of 256 per "
        "framework\n"
    )
    if host is not None:
        print(
            f"host over the turns: {100 * host['idle']:.0f} % of CPU time idle, "
            f"{100 * host['steal']:.0f} % stolen\n"
        )
    print("| measure | Lightning ms | Keras ms | Lightning / Keras | per turn: median (range) |")
    print("|---|---|---|---|---|")
    for key, label in (("step", "training step"), ("infer256", "inference per 256")):
        ratios = [row[key]["ratio"] for row in turns]
        print(
            f"| {label} | {total[key]['lightning_ms']:.2f} | {total[key]['keras_ms']:.2f} | "
            f"**{total[key]['ratio']:.2f}** | {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}) |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "architecture": name,
                    "cpu": cpu_model(),
                    "threads": args.threads,
                    "host": host,
                    "medians": total,
                    "turns": turns,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
