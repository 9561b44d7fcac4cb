"""Every DDP rank's own random stream and its state in a checkpoint (:mod:`sepconv_torch.rng`), with
stand-in trainers: a fresh fit gives ranks above 0 streams of their own, one process adds nothing, each rank
restores its own row, a checkpoint of another rank count is left alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from sepconv_torch import rng
from sepconv_torch.rng import (
    CPU_KEY,
    CUDA_KEY,
    RANK_CUDA_RNG_KEY,
    RANK_RNG_KEY,
    gather_rank_states,
    load_states,
    rank_seed,
    restore_rank_state,
    save_states,
    seed_rank_stream,
)

DESCRIBED, REFERENCE = SimpleNamespace(description={"name": "net"}), SimpleNamespace(description=None)


def _state(seed: int) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.get_rng_state()


def _trainer(
    world_size: int, rank: int = 0, others: list[torch.Tensor] | None = None, ckpt_path: str | None = None
) -> Any:
    """A trainer whose ``all_gather`` stacks this process's state with ``others`` (ranks 1..)."""

    def all_gather(tensor: torch.Tensor) -> torch.Tensor:
        return torch.stack([tensor, *(others or [])])

    strategy = SimpleNamespace(root_device=torch.device("cpu"), all_gather=all_gather)
    return SimpleNamespace(world_size=world_size, global_rank=rank, strategy=strategy, ckpt_path=ckpt_path)


@pytest.mark.parametrize(("world_size", "module"), [(1, DESCRIBED), (2, REFERENCE)], ids=["one", "reference"])
def test_nothing_is_added_without_ranks_or_dropout(world_size: int, module: Any) -> None:
    checkpoint: dict[str, Any] = {}
    gather_rank_states(_trainer(world_size, others=[_state(1)]), module, checkpoint)
    assert checkpoint == {}


def test_each_rank_gets_its_own_state_back() -> None:
    checkpoint: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gather_rank_states(_trainer(2, others=[_state(1)]), DESCRIBED, checkpoint)
    states = checkpoint[RANK_RNG_KEY]
    assert states.dtype == torch.uint8 and states.shape == (2, len(_state(0)))
    for rank, seed in ((0, 0), (1, 1)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(99)  # the state the module restored: rank 0's, or anything
            restore_rank_state(_trainer(2, rank), DESCRIBED, checkpoint)
            assert torch.equal(torch.get_rng_state(), _state(seed)), f"rank {rank}"


@pytest.mark.parametrize("world_size", [1, 4])
def test_another_rank_count_keeps_the_modules_state(world_size: int) -> None:
    checkpoint = {RANK_RNG_KEY: torch.stack([_state(0), _state(1)])}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(99)
        with pytest.warns(UserWarning, match=f"random states of 2 processes, this run has {world_size}"):
            restore_rank_state(_trainer(world_size), DESCRIBED, checkpoint)
        assert torch.equal(torch.get_rng_state(), _state(99))


def _stream_after_start(trainer: Any, module: Any, seed: int = 42) -> torch.Tensor:
    """The CPU random state after :func:`seed_rank_stream` in a process seeded with ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        seed_rank_stream(trainer, module)
        return torch.get_rng_state()


def test_a_fresh_ddp_fit_gives_each_rank_its_own_stream() -> None:
    states = [_stream_after_start(_trainer(4, rank), DESCRIBED) for rank in range(4)]
    assert torch.equal(states[0], _state(42))  # rank 0 draws what one process seeded alike draws
    assert len({bytes(s.numpy()) for s in states}) == 4
    assert torch.equal(_stream_after_start(_trainer(4, 2), DESCRIBED), states[2])  # repeatable
    assert not torch.equal(_stream_after_start(_trainer(4, 2), DESCRIBED, seed=43), states[2])
    assert rank_seed(42, 1) not in (42, 43) and rank_seed(42, 1) != rank_seed(43, 1)


@pytest.mark.parametrize(
    ("trainer", "module"),
    [
        (_trainer(1), DESCRIBED),
        (_trainer(2, 1), REFERENCE),
        (_trainer(2, 1, ckpt_path="last.ckpt"), DESCRIBED),
    ],
    ids=["one-process", "reference", "resumed"],
)
def test_the_stream_is_left_alone(trainer: Any, module: Any) -> None:
    assert torch.equal(_stream_after_start(trainer, module), _state(42))


class _FakeCuda:
    """Stand-in for ``torch.cuda``'s per-device random states (no GPU here): a state per device index."""

    def __init__(self) -> None:
        self.states: dict[int, torch.Tensor] = {}

    def get_rng_state(self, device: torch.device) -> torch.Tensor:
        return self.states.setdefault(device.index, _state(500 + device.index)).clone()

    def set_rng_state(self, state: torch.Tensor, device: torch.device) -> None:
        self.states[device.index] = state.clone()


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> _FakeCuda:
    fake = _FakeCuda()
    monkeypatch.setattr(torch.cuda, "get_rng_state", fake.get_rng_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state", fake.set_rng_state)
    return fake


def _on(trainer: Any, device: str) -> Any:
    trainer.strategy.root_device = torch.device(device)
    return trainer


def test_a_gpu_runs_cuda_state_is_saved_and_restored(fake_cuda: _FakeCuda) -> None:
    checkpoint: dict[str, Any] = {}
    save_states(checkpoint, torch.device("cuda", 0))
    assert torch.equal(checkpoint[CUDA_KEY], _state(500)) and torch.equal(
        checkpoint[CPU_KEY], torch.get_rng_state()
    )
    fake_cuda.states[0] = _state(7)  # the generator moves on
    with torch.random.fork_rng(devices=[]):
        load_states(checkpoint, torch.device("cuda", 0))
    assert torch.equal(fake_cuda.states[0], _state(500))


@pytest.mark.parametrize("device", [None, "cpu"])
def test_a_cpu_run_keeps_no_cuda_state(fake_cuda: _FakeCuda, device: str | None) -> None:
    checkpoint: dict[str, Any] = {}
    save_states(checkpoint, None if device is None else torch.device(device))
    assert CUDA_KEY not in checkpoint and not fake_cuda.states
    checkpoint[CUDA_KEY] = _state(9)  # made on a GPU, resumed on the CPU: the CUDA state is not touched
    with torch.random.fork_rng(devices=[]):
        load_states(checkpoint, None if device is None else torch.device(device))
    assert not fake_cuda.states


def test_each_gpu_rank_gets_its_own_cuda_state_back(
    fake_cuda: _FakeCuda, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cuda.states = {0: _state(500)}
    rank1 = {"cpu": _state(1), "cuda": _state(501)}  # what rank 1 contributes to each collective
    gathered: list[torch.Tensor] = []

    def gather(trainer: Any, state: torch.Tensor) -> torch.Tensor:
        gathered.append(state)
        return torch.stack([state, rank1["cpu" if len(gathered) == 1 else "cuda"]])

    monkeypatch.setattr(rng, "_gather", gather)
    checkpoint: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gather_rank_states(_on(_trainer(2), "cuda:0"), DESCRIBED, checkpoint)
    assert torch.equal(checkpoint[RANK_RNG_KEY], torch.stack([_state(0), _state(1)]))
    assert torch.equal(checkpoint[RANK_CUDA_RNG_KEY], torch.stack([_state(500), _state(501)]))
    fake_cuda.states = {}
    with torch.random.fork_rng(devices=[]):
        restore_rank_state(_on(_trainer(2, rank=1), "cuda:1"), DESCRIBED, checkpoint)
        assert torch.equal(torch.get_rng_state(), _state(1))
    assert list(fake_cuda.states) == [1] and torch.equal(fake_cuda.states[1], _state(501))
