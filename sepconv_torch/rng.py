"""Every DDP rank's own CPU random stream, and every rank's state in a checkpoint, so a resumed run draws
each rank's dropout masks as the uninterrupted run does.

``seed_everything`` seeds every rank alike, so without :func:`seed_rank_stream` every rank would draw the same
dropout masks for its different images. When a fit starts afresh under DDP, rank ``r > 0`` reseeds its CPU
generator from ``SeedSequence(torch.initial_seed(), spawn_key=(r,))``; rank 0 keeps its stream, the one a
single-process run with the same seed draws.

A described network's checkpoint holds the CPU random state (``SepConvLitModule``, ``sepconv_cpu_rng_state``)
of the process that writes it: under DDP rank 0's, which a resume would set on every rank. Here, under
DDP, :func:`gather_rank_states` all-gathers each rank's state into :data:`RANK_RNG_KEY` (a ``uint8``
tensor ``(world_size, state bytes)``, row ``r`` rank ``r``'s) while the checkpoint is made (every rank
makes it, rank 0 writes it), and on a resume with as many ranks :func:`restore_rank_state` gives each
rank its own row, after the module has set rank 0's. One process: nothing is added, nothing changes.
(CUDA generators are not saved, as in one process.)
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["RANK_RNG_KEY", "gather_rank_states", "rank_seed", "restore_rank_state", "seed_rank_stream"]

#: checkpoint entry: every rank's CPU random state, row ``r`` rank ``r``'s
RANK_RNG_KEY = "sepconv_rank_cpu_rng_states"


def _draws_masks(module: L.LightningModule) -> bool:
    """Whether the module keeps its random state in checkpoints (a described network: its dropout)."""
    return getattr(module, "description", None) is not None


def rank_seed(seed: int, rank: int) -> int:
    """Rank ``rank``'s seed for a run seeded with ``seed``: ``seed`` itself for rank 0, else a 64-bit
    seed of NumPy's ``SeedSequence(seed, spawn_key=(rank,))`` (independent of ``seed + k`` runs)."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(1, np.uint64)[0])


def seed_rank_stream(trainer: L.Trainer, module: L.LightningModule) -> None:
    """Under DDP, when a fit starts afresh, give rank ``r > 0`` its own CPU random stream
    (:func:`rank_seed` of ``torch.initial_seed()``), so the ranks' dropout masks differ. A resumed fit
    keeps the states its checkpoint restored; one process: nothing changes."""
    if trainer.world_size < 2 or trainer.global_rank == 0 or trainer.ckpt_path is not None:
        return
    if _draws_masks(module):
        torch.manual_seed(rank_seed(torch.initial_seed(), trainer.global_rank))


def gather_rank_states(trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
    """Under DDP, put every rank's CPU random state into ``checkpoint[RANK_RNG_KEY]``; a collective, so
    call it on every rank (Lightning makes each checkpoint on every rank)."""
    if trainer.world_size < 2 or not _draws_masks(module):
        return
    state = torch.get_rng_state().to(trainer.strategy.root_device)
    checkpoint[RANK_RNG_KEY] = trainer.strategy.all_gather(state).cpu()


def restore_rank_state(trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
    """Set this rank's CPU random state from ``checkpoint[RANK_RNG_KEY]``, if the checkpoint was made by
    as many ranks as this run has; else leave the state the module restored (rank 0's), saying so."""
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
