"""Every DDP rank's own random stream and its state in a checkpoint (:mod:`sepconv_torch.rng`), with
stand-in trainers: a fresh fit gives ranks above 0 streams of their own, one process adds nothing, each rank
restores its own row, a checkpoint of another rank count is left alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from sepconv_torch.rng import (
    RANK_RNG_KEY,
    gather_rank_states,
    rank_seed,
    restore_rank_state,
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
