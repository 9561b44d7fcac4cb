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

A container's CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``) caps
``auto`` too: its CPUs (``sched_getaffinity``) and ``/proc/stat`` are the
host's, and PyTorch starts a thread per host core, so a run limited to 2 CPUs
on a 16-core host would otherwise run 16 threads that the kernel throttles in
turn (:func:`cpu_quota`).
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

__all__ = ["CpuSample", "CpuThreads", "affinity", "busy_elsewhere", "cpu_quota", "sample", "threads_for"]

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


def _cgroup_paths(proc_cgroup: str) -> dict[str, str]:
    """``{controller: path}`` from ``/proc/self/cgroup`` (``""`` is the cgroup v2 hierarchy)."""
    try:
        with open(proc_cgroup, encoding="ascii") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    paths: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "-", "")
        for controller in controllers.split(","):
            paths.setdefault(controller, path)
    return paths


def _quota_in(directory: str, v2: bool) -> float | None:
    """CPUs the quota file(s) in ``directory`` allow, ``None`` for no quota or no file."""
    try:
        if v2:  # "max 100000" or "200000 100000": quota and period in microseconds
            with open(os.path.join(directory, "cpu.max"), encoding="ascii") as f:
                quota, period = f.read().split()[:2]
        else:
            with open(os.path.join(directory, "cpu.cfs_quota_us"), encoding="ascii") as f:
                quota = f.read().strip()
            with open(os.path.join(directory, "cpu.cfs_period_us"), encoding="ascii") as f:
                period = f.read().strip()
        if quota in ("max", "-1") or int(period) <= 0:
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        return None


def cpu_quota(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> float | None:
    """CPUs per period this process's cgroup CPU quota allows, ``None`` without one.

    Reads cgroup v2 ``cpu.max`` or, where the ``cpu`` controller is mounted as v1
    (``ROOT/cpu`` or ``ROOT/cpu,cpuacct``), ``cpu.cfs_quota_us / cpu.cfs_period_us``, in the
    process's own cgroup and each one above it up to the mount point (a container sees its own
    cgroup at the mount point), and keeps the smallest quota.
    """
    paths = _cgroup_paths(proc_cgroup)
    mounts = [(root, True, paths.get(""))]
    mounts += [(os.path.join(root, name), False, paths.get("cpu")) for name in ("cpu", "cpu,cpuacct")]
    quotas = []
    for mount, v2, path in mounts:
        if path is None or (v2 and not os.path.exists(os.path.join(root, "cgroup.controllers"))):
            continue  # v2 needs the unified hierarchy mounted at root
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            quota = _quota_in(os.path.join(mount, *parts[:depth]), v2)
            if quota is not None:
                quotas.append(quota)
    return min(quotas) if quotas else None


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
        if "OMP_NUM_THREADS" in os.environ:
            return
        self._most = self._initial
        quota = cpu_quota()
        allowed = None if quota is None else max(1, math.floor(quota + FREE_BELOW))  # as free cores
        if allowed is not None and allowed < self._most:
            self._most = allowed
            self._set(allowed, f"the cgroup CPU quota allows {quota:g} CPUs")
        last = self._last
        self._follow = last is not None and self._most > 1
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
