"""``CpuThreads``: PyTorch's CPU thread count follows the cores that other processes leave free.

PyTorch's CPU kernels run on an OpenMP team (libgomp) whose idle threads spin
before they sleep. While every core is ours that is fastest; beside another
busy process it is ruinous: each parallel region waits for a team member the
kernel has descheduled, while the spinning ones burn the core it needs
(docs/performance.md, "Training on a busy CPU", has the measurements).

So in ``auto`` mode (the default) the callback measures, from ``/proc/stat``
and this process's own CPU time, how much of the cores this process may run
on (``os.sched_getaffinity``) other processes keep busy, and sets
``torch.set_num_threads`` to the cores left free (at least one, at most the
count PyTorch started with). It measures once before the first batch (over
the time since the callback was made) and again every ``interval`` seconds of
training, validation, testing or prediction, so a load that comes or goes
mid-run is followed. OpenMP's wait policy (``OMP_WAIT_POLICY``) is read once
when PyTorch loads and is left as it is.

A user's own choice wins: with ``OMP_NUM_THREADS`` set (Lightning's DDP
launcher sets it for each process too), ``auto`` changes nothing; a number
fixes the count. The count PyTorch had is restored at teardown. Without
``/proc/stat`` (not Linux), ``auto`` changes nothing.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Any, Literal, NamedTuple

import lightning as L
import torch

from sepconv.errors import InputError

__all__ = ["CpuSample", "CpuThreads", "affinity", "busy_elsewhere", "sample", "threads_for"]

log = logging.getLogger(__name__)

#: the part of a core others may use while it still counts as free: an OpenMP team waiting
#: for a descheduled member loses more than one thread fewer does
FREE_BELOW = 0.4
#: the shortest window a measurement is taken over (seconds): /proc/stat counts in 10 ms ticks
MIN_WINDOW = 0.1


class CpuSample(NamedTuple):
    """One reading: wall clock, busy CPU time of the watched cores, this process's CPU time (seconds)."""

    wall: float
    busy: float
    own: float


def affinity() -> frozenset[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def sample(cpus: frozenset[int], stat: str = "/proc/stat") -> CpuSample | None:
    """Busy time of ``cpus`` (user, system, irq, steal: all but idle and iowait) and our own.

    ``None`` where there is no ``/proc/stat`` (not Linux): then nothing is adapted.
    """
    try:
        with open(stat, encoding="ascii") as f:
            lines = f.readlines()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    busy = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        busy += user + nice + system + irq + softirq + steal  # guest time is inside user already
    own = os.times()
    return CpuSample(time.monotonic(), busy / tick, own.user + own.system)


def busy_elsewhere(before: CpuSample, after: CpuSample) -> float:
    """Cores kept busy by other processes between two samples (0.0 for an empty window)."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    return max(0.0, ((after.busy - before.busy) - (after.own - before.own)) / wall)


def threads_for(elsewhere: float, cores: int, most: int) -> int:
    """Threads to use on ``cores`` CPUs while others keep ``elsewhere`` of them busy: 1..``most``.

    A core counts as free while others use less than :data:`FREE_BELOW` of it.
    """
    free = math.floor(cores - elsewhere + FREE_BELOW)
    return max(1, min(most, free))


class CpuThreads(L.Callback):
    """Sets PyTorch's CPU thread count: ``count="auto"`` follows the free cores, a number fixes it.

    Args:
        count: CPU threads of PyTorch's kernels: auto (as many as the cores other processes leave
            free, measured again every interval seconds; unchanged when OMP_NUM_THREADS is set) or a number.
        interval: seconds between two measurements of the load in auto mode (at least ``MIN_WINDOW``).
    """

    def __init__(self, count: int | Literal["auto"] = "auto", interval: float = 1.0) -> None:
        if count != "auto" and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise InputError(f"cpu_threads.count must be 'auto' or a number >= 1, received {count!r}")
        if not interval > 0:
            raise InputError(f"cpu_threads.interval must be > 0 seconds, received {interval!r}")
        self.count = count
        self.interval = float(interval)
        self._cpus = affinity()
        self._last = sample(self._cpus) if count == "auto" else None
        self._initial: int | None = None
        self._most = 1
        self._follow = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._initial = torch.get_num_threads()
        if self.count != "auto":
            self._set(self.count, "fixed by count")
            return
        self._most = self._initial
        last = self._last
        self._follow = "OMP_NUM_THREADS" not in os.environ and last is not None and self._most > 1
        if self._follow and last is not None:
            wait = MIN_WINDOW - (time.monotonic() - last.wall)
            if wait > 0:
                time.sleep(wait)
            self._check()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._initial is not None and torch.get_num_threads() != self._initial:
            torch.set_num_threads(self._initial)
        self._follow = False

    def _check(self) -> None:
        now = sample(self._cpus)
        if now is None or self._last is None:
            return
        elsewhere = busy_elsewhere(self._last, now)
        self._last = now
        self._set(threads_for(elsewhere, len(self._cpus), self._most), f"others use {elsewhere:.2f} cores")

    def _set(self, threads: int, why: str) -> None:
        if threads != torch.get_num_threads():
            log.info("%d CPU thread(s): %s of %d", threads, why, len(self._cpus))
            torch.set_num_threads(threads)

    def _maybe_check(self) -> None:
        window = max(self.interval, MIN_WINDOW)  # shorter windows hold a tick or two of CPU time: noise
        if self._follow and self._last is not None and time.monotonic() - self._last.wall >= window:
            self._check()

    def on_train_batch_start(self, *args: Any) -> None:
        self._maybe_check()

    def on_validation_batch_start(self, *args: Any) -> None:
        self._maybe_check()

    def on_test_batch_start(self, *args: Any) -> None:
        self._maybe_check()

    def on_predict_batch_start(self, *args: Any) -> None:
        self._maybe_check()
