"""Training and prediction throughput on an idle CPU and beside CPU-bound processes.

Each measurement is a pair of real commands, long and short, timed from outside: their
difference is the time of the extra batches, so start-up (imports, data loading, the
checkpoint written at the end) cancels out. A load is N ``python -c "while True: pass"``
processes started just before the pair and stopped just after it. Paths and loads are
interleaved round by round, so that drift in the machine's own load hits all alike. Prints
medians over rounds and, per path, the ratio of its throughput beside the load to its idle
throughput (1.0: the load costs nothing; a fair share of C cores beside N busy processes
is about C/(C+N) of an idle run that used all of them), with the CPU model, the commit, the
load average before the run and the background load measured during each load level (CPU
busy outside this benchmark and its children, in cores: 0 on a quiet machine).

    python benchmarks/contention.py                       # idle and beside 1 busy process, 2 rounds
    python benchmarks/contention.py --busy 1 2 --rounds 3 --json contention.json
    python benchmarks/contention.py --paths torch-fit torch-fit-fixed torch-fit-passive torch-fit-1

Paths: ``torch-fit`` (``sepconv-torch fit`` as it runs by default: ``--cpu_threads.count auto``),
``keras-train`` (``sepconv-keras train``), ``torch-predict`` (``sepconv-torch predict`` over the
test set, ``auto``), and the levers: ``torch-fit-fixed`` / ``torch-predict-fixed`` (one thread
per core whatever the load: PyTorch's own default), ``torch-fit-passive`` (that, with
``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads sleep at once instead of spinning) and
``torch-fit-1`` (one thread). Training pairs are 360 and 60 batches of 32 (``--batches``), so
a time is that of 300 batches; prediction pairs are 20 and 2 batches of 500 test images
(18 batches, 9,000 images).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from step_time import cpu_model  # this folder is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PATHS = (
    "torch-fit",
    "keras-train",
    "torch-predict",
    "torch-fit-fixed",
    "torch-fit-passive",
    "torch-fit-1",
    "torch-predict-fixed",
)
DEFAULT_PATHS = ("torch-fit", "keras-train", "torch-predict")
PREDICT_BATCHES = (20, 2)  # of 500 images: the whole test set, and a tenth of it


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def busy_seconds() -> float:
    """CPU time spent busy on all cores since boot (seconds; everything but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    """CPU time of this benchmark and of its children that have ended (seconds)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@contextmanager
def busy_processes(n: int) -> Iterator[None]:
    """``n`` CPU-bound Python processes running for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def command(path: str, long: bool, work: Path, batches: tuple[int, int], ckpt: Path) -> list[str]:
    """The command line of one run of ``path`` (the long or the short one of its pair)."""
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    if path == "keras-train":
        steps = batches[0] if long else batches[1]
        return [str(BIN / "sepconv-keras"), "train", "--epochs", "1", "--steps-per-epoch", str(steps),
                "--verbose", "0", "--output-dir", str(work / "keras")]  # fmt: skip
    threads = {"fixed": str(len(os.sched_getaffinity(0))), "passive": str(len(os.sched_getaffinity(0)))}
    threads["1"] = "1"
    lever = path.rsplit("-", 1)[1]
    count = ["--cpu_threads.count", threads[lever]] if lever in threads else []
    if path.startswith("torch-predict"):
        n = PREDICT_BATCHES[0] if long else PREDICT_BATCHES[1]
        return [str(BIN / "sepconv-torch"), "predict", "--ckpt_path", str(ckpt), *quiet, *count,
                "--trainer.limit_predict_batches", str(n), "--trainer.logger=false",
                "--trainer.default_root_dir", str(work / "predict")]  # fmt: skip
    n = batches[0] if long else batches[1]
    return [str(BIN / "sepconv-torch"), "fit", *quiet, *count, "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", str(n), "--trainer.limit_val_batches", "1",
            "--trainer.logger=false", "--trainer.default_root_dir", str(work / "fit")]  # fmt: skip


def environment(path: str) -> dict[str, str]:
    """The commands' environment: this tree first on the path, no thread settings of the caller's."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env |= {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if path.endswith("-passive"):
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"contention: {' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed


def make_checkpoint(work: Path) -> Path:
    """A checkpoint for the prediction paths: a 20-batch fit (its weights do not matter here)."""
    cmd = command("torch-fit", False, work, (20, 20), Path())
    timed(cmd, environment("torch-fit"))
    return next((work / "fit").rglob("last.ckpt"))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    loads = [0, *args.busy]
    times: dict[str, dict[int, list[float]]] = {p: {n: [] for n in loads} for p in args.paths}
    background: dict[int, list[float]] = {n: [] for n in loads}
    with tempfile.TemporaryDirectory(prefix="contention-") as tmp:
        work = Path(tmp)
        ckpt = make_checkpoint(work) if any(p.startswith("torch-predict") for p in args.paths) else Path()
        for r in range(args.rounds):
            for n in loads if r % 2 == 0 else loads[::-1]:
                busy0, ours0, wall0 = busy_seconds(), children_seconds(), time.perf_counter()
                with busy_processes(n):
                    for path in args.paths if r % 2 == 0 else args.paths[::-1]:
                        env = environment(path)
                        runs = (True, False) if r % 2 == 0 else (False, True)
                        pair = {x: timed(command(path, x, work, args.batches, ckpt), env) for x in runs}
                        times[path][n].append(pair[True] - pair[False])
                        print(f"round {r + 1} busy={n} {path}: {pair[True] - pair[False]:.2f} s", flush=True)
                wall = time.perf_counter() - wall0
                background[n].append(((busy_seconds() - busy0) - (children_seconds() - ours0)) / wall)
    return {"times": times, "background": background}


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    loads = [0, *args.busy]
    times = results["times"]
    head = ["path", "idle (s)"] + [f"beside {n} busy (s)" for n in args.busy]
    head += [f"ratio, {n} busy" for n in args.busy]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path, by_load in times.items():
        med = {n: statistics.median(by_load[n]) for n in loads}
        cells = [f"`{path}`"] + [f"{med[n]:.2f}" for n in loads]
        cells += [f"**{med[0] / med[n]:.2f}**" for n in args.busy]
        lines.append("| " + " | ".join(cells) + " |")
    bg = ", ".join(f"{n} busy: {statistics.median(v):.2f}" for n, v in results["background"].items())
    lines.append("")
    lines.append(f"Background load during the runs (cores busy outside this benchmark; 0 when quiet): {bg}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(DEFAULT_PATHS))
    parser.add_argument("--busy", nargs="+", type=int, default=[1], help="busy processes beside (each level)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batches", nargs=2, type=int, default=(360, 60), metavar=("LONG", "SHORT"))
    parser.add_argument("--json", type=Path, help="also write the raw times here")
    args = parser.parse_args()
    if args.batches[0] <= args.batches[1] or min(args.busy) < 1 or args.rounds < 1:
        parser.error("need LONG > SHORT batches, --busy levels >= 1 and --rounds >= 1")
    cores = len(os.sched_getaffinity(0))
    print(
        f"{datetime.date.today()} · {cpu_model()}, {cores} cores · commit {commit()} · "
        f"load average before: {os.getloadavg()[0]:.2f} · {args.rounds} rounds · "
        f"training: {args.batches[0] - args.batches[1]} batches of 32 · "
        f"prediction: {(PREDICT_BATCHES[0] - PREDICT_BATCHES[1]) * 500} images",
        flush=True,
    )
    results = measure(args)
    print()
    print(table(results, args))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, **results}, indent=2))


if __name__ == "__main__":
    main()
