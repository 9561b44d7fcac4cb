"""The random states a described network's dropout draws from: in checkpoints, and one stream per DDP rank.

A resumed fit must draw the dropout masks the uninterrupted run would have drawn, so a described network's
checkpoint holds the CPU random state (:data:`CPU_KEY`) and, when it trains on a GPU, that device's CUDA
state (:data:`CUDA_KEY`): :func:`save_states` and :func:`load_states`, called by ``SepConvLitModule``.
Those are the states of the process that writes the checkpoint: under DDP rank 0's, which a resume would set
on every rank. So under DDP :func:`gather_rank_states` all-gathers each rank's states into
:data:`RANK_RNG_KEY` and :data:`RANK_CUDA_RNG_KEY` (``uint8`` tensors ``(world_size, state bytes)``, row ``r``
rank ``r``'s) while the checkpoint is made (every rank makes it, rank 0 writes it), and on a resume with as
many ranks :func:`restore_rank_state` gives each rank its own rows, after the module has set rank 0's.

``seed_everything`` seeds every rank alike, so without :func:`seed_rank_stream` every rank would draw the same
dropout masks for its different images. When a fit starts afresh under DDP, rank ``r > 0`` reseeds its
generators (``torch.manual_seed``: the CPU's and every GPU's) from :func:`rank_seed`; rank 0 keeps its
stream, the one a single-process run with the same seed draws.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

__all__ = [
    "CPU_KEY",
    "CUDA_KEY",
    "RANK_CUDA_RNG_KEY",
    "RANK_RNG_KEY",
    "gather_rank_states",
    "load_states",
    "rank_seed",
    "restore_rank_state",
    "save_states",
    "seed_rank_stream",
]

#: checkpoint entry: the CPU random state of the process that wrote it
CPU_KEY = "sepconv_cpu_rng_state"
#: checkpoint entry: the training GPU's CUDA random state, when it trained on one
CUDA_KEY = "sepconv_cuda_rng_state"
#: checkpoint entry: every rank's CPU random state, row ``r`` rank ``r``'s
RANK_RNG_KEY = "sepconv_rank_cpu_rng_states"
#: checkpoint entry: every rank's CUDA random state (each rank's own GPU), row ``r`` rank ``r``'s
RANK_CUDA_RNG_KEY = "sepconv_rank_cuda_rng_states"


def _draws_masks(module: L.LightningModule) -> bool:
    """Whether the module keeps its random state in checkpoints (a described network: its dropout)."""
    return getattr(module, "description", None) is not None


def _cuda_device(trainer: L.Trainer) -> torch.device | None:
    """The GPU this process trains on, or None (the module may not be on it yet when a checkpoint loads)."""
    device = trainer.strategy.root_device
    return device if device.type == "cuda" else None


def save_states(checkpoint: dict[str, Any], device: torch.device | None) -> None:
    """This process's CPU random state, and the CUDA state of ``device`` (the training device) if a GPU."""
    checkpoint[CPU_KEY] = torch.get_rng_state()
    if device is not None and device.type == "cuda":
        checkpoint[CUDA_KEY] = torch.cuda.get_rng_state(device)


def load_states(checkpoint: dict[str, Any], device: torch.device | None) -> None:
    """Set the states :func:`save_states` kept (a CUDA state only when ``device`` is a GPU too)."""
    if isinstance(checkpoint.get(CPU_KEY), torch.Tensor):
        torch.set_rng_state(checkpoint[CPU_KEY])
    if device is not None and device.type == "cuda" and isinstance(checkpoint.get(CUDA_KEY), torch.Tensor):
        torch.cuda.set_rng_state(checkpoint[CUDA_KEY], device)


def rank_seed(seed: int, rank: int) -> int:
    """Rank ``rank``'s seed for a run seeded with ``seed``: ``seed`` itself for rank 0, else a 64-bit
    seed of NumPy's ``SeedSequence(seed, spawn_key=(rank,))`` (independent of ``seed + k`` runs)."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(1, np.uint64)[0])


def seed_rank_stream(trainer: L.Trainer, module: L.LightningModule) -> None:
    """Under DDP, when a fit starts afresh, give rank ``r > 0`` its own random stream
    (:func:`rank_seed` of ``torch.initial_seed()``), so the ranks' dropout masks differ. A resumed fit
    keeps the states its checkpoint restored; one process: nothing changes."""
    if trainer.world_size < 2 or trainer.global_rank == 0 or trainer.ckpt_path is not None:
        return
    if _draws_masks(module):
        torch.manual_seed(rank_seed(torch.initial_seed(), trainer.global_rank))


def _gather(trainer: L.Trainer, state: torch.Tensor) -> torch.Tensor:
    """Every rank's ``state`` (a CPU ``uint8`` tensor), stacked on the CPU; through the training device,
    where the collective runs (NCCL gathers GPU tensors only)."""
    return trainer.strategy.all_gather(state.to(trainer.strategy.root_device)).cpu()


def gather_rank_states(trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
    """Under DDP, put every rank's random states into ``checkpoint[RANK_RNG_KEY]`` (and
    ``[RANK_CUDA_RNG_KEY]`` on GPUs); a collective, so call it on every rank (Lightning makes each
    checkpoint on every rank)."""
    if trainer.world_size < 2 or not _draws_masks(module):
        return
    checkpoint[RANK_RNG_KEY] = _gather(trainer, torch.get_rng_state())
    device = _cuda_device(trainer)
    if device is not None:
        checkpoint[RANK_CUDA_RNG_KEY] = _gather(trainer, torch.cuda.get_rng_state(device))


def restore_rank_state(trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
    """Set this rank's random states from the checkpoint's per-rank rows, if it was made by as many ranks
    as this run has; else leave the states the module restored (rank 0's), saying so."""
    states = checkpoint.get(RANK_RNG_KEY)
    if not isinstance(states, torch.Tensor) or not _draws_masks(module):
        return
    if states.ndim != 2 or len(states) != trainer.world_size:
        rank_zero_warn(
            f"the checkpoint holds the random states of {len(states)} processes, this run has "
            f"{trainer.world_size}: every process continues from rank 0's (dropout masks differ from "
            "an uninterrupted run's)"
        )
        return
    torch.set_rng_state(states[trainer.global_rank].clone())
    cuda, device = checkpoint.get(RANK_CUDA_RNG_KEY), _cuda_device(trainer)
    if device is not None and isinstance(cuda, torch.Tensor) and len(cuda) == trainer.world_size:
        torch.cuda.set_rng_state(cuda[trainer.global_rank].clone(), device)
