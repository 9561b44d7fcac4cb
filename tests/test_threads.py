"""``CpuThreads``: PyTorch's CPU thread count follows the cores other processes leave free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from commands import assert_refused
from commands import run as run_command

from sepconv.errors import InputError
from sepconv_torch import threads
from sepconv_torch.threads import CpuSample, CpuThreads, busy_elsewhere, cpu_quota, sample, threads_for


@pytest.fixture
def restore_threads() -> Iterator[int]:
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("elsewhere", "cores", "most", "expected"),
    [
        (0.0, 2, 2, 2),  # idle: every core
        (0.3, 2, 2, 2),  # a little background work leaves both cores
        (0.67, 2, 2, 1),  # one busy process, as it looks beside two spinning threads
        (1.0, 2, 2, 1),  # one busy process
        (5.0, 2, 2, 1),  # never fewer than one
        (0.0, 16, 8, 8),  # never more than PyTorch started with
        (3.0, 16, 16, 13),
        (3.5, 16, 16, 12),  # a core others use 50% of is not free
    ],
)
def test_threads_for(elsewhere: float, cores: int, most: int, expected: int) -> None:
    assert threads_for(elsewhere, cores, most) == expected


def test_busy_elsewhere_subtracts_our_own_time() -> None:
    before = CpuSample(wall=10.0, busy=100.0, own=5.0)
    # 2 s: 3 core-seconds busy, 1 of them ours -> others kept 1 core busy
    assert busy_elsewhere(before, CpuSample(12.0, 103.0, 6.0)) == pytest.approx(1.0)
    assert busy_elsewhere(before, CpuSample(12.0, 101.0, 6.5)) == 0.0  # tick rounding: never negative
    assert busy_elsewhere(before, before) == 0.0


def test_sample_reads_only_our_cpus(tmp_path: Path) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  900 0 900 900 0 0 0 0 0 0\n"
        "cpu0 100 1 10 500 7 2 3 4 0 0\n"
        "cpu1 200 0 20 400 9 0 0 0 0 0\n"
        "cpu2 600 0 870 0 0 0 0 0 0 0\n"
        "intr 12345\n"
    )
    got = sample(frozenset({0, 1}), str(stat))
    assert got is not None
    assert got.busy == pytest.approx((100 + 1 + 10 + 2 + 3 + 4 + 200 + 20) / tick)  # idle, iowait left out
    assert sample(frozenset({0}), str(tmp_path / "missing")) is None


class _Machine:
    """Scripted readings of /proc/stat for two cores, and the clock they were taken at."""

    def __init__(self) -> None:
        self.now = 0.0
        self.busy = 0.0
        self.own = 0.0

    def run(self, seconds: float, others: float, ours: float) -> None:
        self.now += seconds
        self.busy += (others + ours) * seconds
        self.own += ours * seconds

    def sample(self, cpus: frozenset[int]) -> CpuSample:
        return CpuSample(self.now, self.busy, self.own)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, restore_threads: int) -> _Machine:
    fake = _Machine()
    monkeypatch.setattr(threads, "sample", fake.sample)
    monkeypatch.setattr(threads, "affinity", lambda: frozenset({0, 1}))
    monkeypatch.setattr(threads, "time", fake)
    monkeypatch.setattr(threads, "cpu_quota", lambda: None)  # the host running the tests may have one
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    return fake


def test_auto_follows_load_as_it_comes_and_goes(machine: _Machine) -> None:
    callback = CpuThreads(interval=1.0)
    machine.run(2.0, others=1.0, ours=1.0)  # a busy process was there from the start
    callback.setup(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == 1
    machine.run(0.5, others=0.0, ours=1.0)
    callback.on_train_batch_start()
    assert torch.get_num_threads() == 1  # measured again only after `interval`
    machine.run(0.6, others=0.0, ours=1.0)  # it stopped
    callback.on_train_batch_start()
    assert torch.get_num_threads() == 2
    machine.run(1.5, others=0.67, ours=1.33)  # another started, beside our two spinning threads
    callback.on_predict_batch_start()
    assert torch.get_num_threads() == 1
    callback.teardown(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == 2  # as PyTorch had it


def test_auto_waits_for_a_window_it_can_measure(machine: _Machine) -> None:
    callback = CpuThreads()
    callback.setup(None, None, "fit")  # type: ignore[arg-type]  # made and set up at once
    assert machine.now == pytest.approx(threads.MIN_WINDOW)


def test_auto_keeps_the_users_omp_num_threads(machine: _Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    callback = CpuThreads(interval=1.0)
    machine.run(2.0, others=2.0, ours=0.0)
    callback.setup(None, None, "fit")  # type: ignore[arg-type]
    machine.run(2.0, others=2.0, ours=0.0)
    callback.on_train_batch_start()
    assert torch.get_num_threads() == 2


def test_a_number_fixes_the_count_until_teardown(machine: _Machine) -> None:
    callback = CpuThreads(count=1)
    callback.setup(None, None, "predict")  # type: ignore[arg-type]
    machine.run(5.0, others=0.0, ours=1.0)
    callback.on_predict_batch_start()
    assert torch.get_num_threads() == 1
    callback.teardown(None, None, "predict")  # type: ignore[arg-type]
    assert torch.get_num_threads() == 2


def _files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.parametrize(
    ("proc_cgroup", "files", "expected"),
    [
        # cgroup v2, a container's own cgroup at the mount point
        ("0::/\n", {"cgroup.controllers": "cpu\n", "cpu.max": "200000 100000\n"}, 2.0),
        # v2, the smallest quota along the path wins, "max" is none
        (
            "0::/a/b\n",
            {"cgroup.controllers": "", "a/cpu.max": "150000 100000\n", "a/b/cpu.max": "max 100000\n"},
            1.5,
        ),
        ("0::/a\n", {"cgroup.controllers": "", "a/cpu.max": "max 100000\n"}, None),
        # v1 under cpu,cpuacct; the path is the host's, the mount shows the container's cgroup
        (
            "4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n0::/\n",
            {"cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"},
            0.5,
        ),
        ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ("1:cpu:/\n", {"cpu/cpu.cfs_quota_us": "garbage\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ("0::/\n", {"cpu.max": "200000 100000\n"}, None),  # no unified hierarchy at the root
        ("", {}, None),
    ],
)
def test_cpu_quota(tmp_path: Path, proc_cgroup: str, files: dict[str, str], expected: float | None) -> None:
    _files(tmp_path / "fs", files)
    (tmp_path / "cgroup").write_text(proc_cgroup)
    assert cpu_quota(str(tmp_path / "fs"), str(tmp_path / "cgroup")) == expected
    assert cpu_quota(str(tmp_path / "fs"), str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    ("quota", "started", "expected"), [(2.0, 4, 2), (1.2, 2, 1), (1.7, 2, 2), (0.5, 4, 1)]
)
def test_auto_stays_within_the_cgroup_cpu_quota(
    machine: _Machine, monkeypatch: pytest.MonkeyPatch, quota: float, started: int, expected: int
) -> None:
    """Idle cores the quota does not pay for are not used; ``OMP_NUM_THREADS`` still wins."""
    monkeypatch.setattr(threads, "affinity", lambda: frozenset(range(8)))
    monkeypatch.setattr(threads, "cpu_quota", lambda: quota)
    torch.set_num_threads(started)
    callback = CpuThreads(interval=1.0)
    callback.setup(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == expected
    machine.run(2.0, others=0.0, ours=expected)  # an idle host
    callback.on_train_batch_start()
    assert torch.get_num_threads() == expected
    callback.teardown(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == started
    monkeypatch.setenv("OMP_NUM_THREADS", str(started))
    callback.setup(None, None, "fit")  # type: ignore[arg-type]
    assert torch.get_num_threads() == started


@pytest.mark.parametrize(("count", "interval"), [(0, 1.0), (True, 1.0), ("two", 1.0), ("auto", 0.0)])
def test_bad_settings_are_refused_by_name(count: object, interval: float) -> None:
    with pytest.raises(InputError, match=r"cpu_threads\.(count|interval)"):
        CpuThreads(count=count, interval=interval)  # type: ignore[arg-type]


def _fit_threads(tmp_path: Path, *extra: str, env: dict[str, str | None]) -> list[int]:
    """``sepconv-torch fit`` (6 batches); the thread counts its batches ran with."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "threads.json"
    done = run_command(
        "sepconv-torch", "fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "6",
        "--trainer.limit_val_batches", "1", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
        "--trainer.default_root_dir", tmp_path / "run", "--cpu_threads.interval", "0.01",
        "--trainer.callbacks+=tests.thread_probe.ThreadLog", "--trainer.callbacks.path", log, *extra,
        env={"OMP_NUM_THREADS": None, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(log.read_text())


@pytest.mark.slow
@pytest.mark.realdata
def test_sepconv_torch_fit_uses_one_thread_beside_busy_processes(tmp_path: Path) -> None:
    """A real ``fit`` on two cores, both kept busy by other processes: every batch runs on one thread.

    Unless the user set ``OMP_NUM_THREADS``: then it is kept.
    """
    mine = os.sched_getaffinity(0)
    cores = set(sorted(mine)[:2])
    if len(cores) < 2:
        pytest.fail("this test needs two cores")
    os.sched_setaffinity(0, cores)  # inherited by the busy processes and the run
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in cores]
    try:
        counts = _fit_threads(tmp_path / "auto", env={})
        users = _fit_threads(tmp_path / "users", env={"OMP_NUM_THREADS": "2"})
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        os.sched_setaffinity(0, mine)
    assert counts and set(counts) == {1}, counts
    assert set(users) == {2}, users


@pytest.mark.slow
@pytest.mark.realdata
def test_sepconv_torch_fit_count_fixes_the_threads(tmp_path: Path) -> None:
    assert set(_fit_threads(tmp_path, "--cpu_threads.count", "3", env={})) == {3}


def test_sepconv_torch_refuses_a_bad_count_in_one_line(tmp_path: Path) -> None:
    proc = run_command(
        "sepconv-torch", "fit", "--cpu_threads.count", "0", "--trainer.default_root_dir", tmp_path
    )
    assert_refused(proc, "sepconv-torch", "cpu_threads.count", "received 0")
