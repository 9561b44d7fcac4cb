"""Refusing a CPU training batch that cannot fit in this machine's memory, before the process dies of it.

Neither framework reports running out of host memory on the CPU: the operating system kills the process
(``SIGKILL``, no message) or the framework crashes. Both commands therefore estimate a training step's
resident memory with one linear model, measured per framework from the peak RSS of short runs::

    need(batch, processes) = processes * (reserve + batch * per_sample)

``reserve`` is what a process holds whatever the batch (the framework, the model, the standardised data
set); ``per_sample`` is what one image of the training batch adds (activations, their gradients, the
allocator's slack). Under data parallelism on one machine every process holds its own copy of both. A
batch whose need exceeds Linux's ``MemAvailable`` now is refused, naming the largest batch that fits.
Where the available memory cannot be read (not Linux), nothing is checked. Framework-neutral.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sepconv.errors import InputError

__all__ = ["GIB", "TrainingMemory", "available_memory"]

GIB = 2**30


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Linux's ``MemAvailable`` in bytes, or ``None`` where it cannot be read."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True)
class TrainingMemory:
    """The linear model above for one framework.

    ``what`` names the training in the message (``"Keras training on the CPU"``); ``consequence`` says
    what would happen instead of a message (``"TensorFlow would be killed or crash ..."``).
    """

    reserve: int
    per_sample: int
    what: str
    consequence: str

    def need(self, batch_size: int, processes: int = 1) -> int:
        """Bytes a training step at ``batch_size`` holds, over ``processes`` processes."""
        return processes * (self.reserve + batch_size * self.per_sample)

    def largest_batch(self, available: int, processes: int = 1) -> int:
        """The largest batch whose :meth:`need` is at most ``available`` bytes (0 if none)."""
        return max(0, available // max(1, processes) - self.reserve) // self.per_sample

    def check(self, batch_size: int, option: str, available: int | None, processes: int = 1) -> None:
        """``InputError`` starting ``"<option> <batch_size>: "`` if :meth:`need` exceeds ``available``.

        ``available`` ``None`` (unknown) checks nothing.
        """
        need = self.need(batch_size, processes)
        if available is None or need <= available:
            return
        where = f" in {processes} processes" if processes > 1 else ""
        raise InputError(
            f"{option} {batch_size}: {self.what} needs about {need / GIB:.1f} GiB at this batch size{where} "
            f"and {available / GIB:.1f} GiB of memory is available ({self.consequence}); the largest batch "
            f"that fits is about {self.largest_batch(available, processes)}"
        )
