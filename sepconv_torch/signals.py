"""SIGTERM and Ctrl-C (SIGINT) during ``sepconv-torch``: exit 143 / 130 with one line on what was kept.

Inside ``Trainer.fit`` Lightning owns SIGTERM: its handler sets ``trainer.received_sigterm`` (and
passes the signal on to the other DDP ranks), and every rank raises ``SIGTERMException``, a
``SystemExit`` with status 0, at the same batch boundary. Ctrl-C raises ``KeyboardInterrupt``, which
Lightning turns into ``sys.exit(1)`` after stopping. Callbacks see both in ``on_exception``
(:class:`sepconv_torch.callbacks.LearningCurves` writes the finished epochs' curves there).
:func:`stopped_as` turns them back into :class:`sepconv.errors.Terminated` and ``KeyboardInterrupt``,
which :func:`sepconv.errors.run_main` reports as 143 and 130 with :func:`stop_note`.

Outside the trainer (parsing, loading data, writing the outputs) :func:`handled` makes SIGTERM raise
``Terminated`` at once. Inside it, Lightning's handler calls this one too (it chains the handler it
found); it then leaves the stop to Lightning, so that all ranks stop at the same batch.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from sepconv.errors import INTERRUPTED_STATUS, TERMINATED_STATUS, Terminated
from sepconv_torch.checkpoints import find_checkpoint
from sepconv_torch.resume import run_dir

try:  # private to Lightning: a release without it keeps its own notifier
    from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector
except ImportError:  # pragma: no cover
    _SignalConnector = None

__all__ = ["as_stop", "handled", "received", "resume_command", "stop_note", "stopped_as", "watch"]

#: the signals that arrived in this process, by name
received: set[str] = set()
#: the trainer of the running command (set by the CLI), for :func:`stop_note`
_watched: dict[str, L.Trainer] = {}


def watch(trainer: L.Trainer) -> None:
    """Remember ``trainer``: :func:`stop_note` reports on its checkpoints."""
    _watched["trainer"] = trainer


def _notify_without_collectives(connector: Any, signum: int, frame: FrameType | None) -> None:
    """Lightning's SIGTERM notifier (``_SignalConnector._sigterm_notifier_fn``) without its broadcast.

    Lightning's notifier (2.6; its PR #20825) broadcasts rank 0's flag from inside the signal handler. Python
    runs a handler at the main thread's next bytecode, which under DDP can be inside the forward or the
    backward (a Python autograd function such as :mod:`sepconv_torch.conv`'s) while the other rank is in
    the gradient all-reduce: one rank then waits in the broadcast and the other in the all-reduce, for
    ever (seen with ``py-spy dump``). Without it the handler passes SIGTERM on to the other ranks and
    sets the flag, as before that change, and each rank stops at a batch boundary; the training loop's own
    per-batch broadcast of rank 0's flag still runs where all ranks call it. :func:`handled` puts this
    function in place of Lightning's.
    """
    if not connector.received_sigterm:
        launcher = connector.trainer.strategy.launcher
        if launcher is not None:
            launcher.kill(signum)
    connector.received_sigterm = True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    received.add("SIGTERM")
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        return  # called by Lightning's handler, which stops every rank at the next batch boundary
    raise Terminated(f"signal {signum}")


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    received.add("SIGINT")
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Handle SIGTERM and SIGINT as above, and Lightning's SIGTERM notifier as
    :func:`_notify_without_collectives`, while the block runs (main thread only); then as before."""
    received.clear()
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    notifier = getattr(_SignalConnector, "_sigterm_notifier_fn", None)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigint)
    if notifier is not None:  # every Trainer's, in this process
        _SignalConnector._sigterm_notifier_fn = _notify_without_collectives
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
        if notifier is not None:
            _SignalConnector._sigterm_notifier_fn = notifier
        _watched.clear()


def stopped_as(error: BaseException) -> BaseException | None:
    """``Terminated`` or ``KeyboardInterrupt`` if ``error`` is how Lightning ended a run a signal stopped.

    ``SIGTERMException``; Lightning's ``sys.exit(1)`` after Ctrl-C; or any other error after SIGTERM
    (a rank whose peers stopped first loses its connection to them).
    """
    if isinstance(error, (Terminated, KeyboardInterrupt)):
        return None  # already what run_main reports
    if isinstance(error, SIGTERMException) or "SIGTERM" in received:
        return Terminated("SIGTERM")
    if isinstance(error, SystemExit) and "SIGINT" in received:
        return KeyboardInterrupt()
    return None


def as_stop(error: BaseException, rank: int) -> BaseException | None:
    """What to raise instead of ``error`` if a signal stopped the command, else ``None``.

    Rank 0: ``Terminated`` / ``KeyboardInterrupt``, which ``run_main`` reports in one line; the other
    DDP ranks: a quiet ``SystemExit`` with the same status (143 / 130).
    """
    stop = error if isinstance(error, (Terminated, KeyboardInterrupt)) else stopped_as(error)
    if stop is None:
        return None
    if rank != 0:
        interrupted = isinstance(stop, KeyboardInterrupt)
        return SystemExit(INTERRUPTED_STATUS if interrupted else TERMINATED_STATUS)
    return None if stop is error else stop


def resume_command(argv: Sequence[str], ckpt: str | None) -> str:
    """``sepconv-torch ARGV``, any ``--ckpt_path`` and ``--override`` replaced by ``--ckpt_path CKPT``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path=") and arg != "--override":
            kept.append(arg)
    return shlex.join(["sepconv-torch", *kept, *(["--ckpt_path", ckpt] if ckpt else [])])


def stop_note(argv: Sequence[str]) -> str | None:
    """What a stopped ``fit`` kept and the command that resumes it; ``None`` for other commands."""
    trainer = _watched.get("trainer")
    if trainer is None or trainer.state.fn != TrainerFn.FITTING:
        return None
    callback = trainer.checkpoint_callback
    last = Path(callback.last_model_path) if callback is not None and callback.last_model_path else None
    done = trainer.fit_loop.epoch_progress.current.completed
    of = f" of {trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
    if last is None or not last.is_file():
        return f"no checkpoint yet (no epoch finished); start again: {resume_command(argv, None)}"
    try:
        newest = find_checkpoint(trainer.default_root_dir, "last")
    except FileNotFoundError:
        newest = None
    which = "last" if newest is not None and newest.resolve() == last.resolve() else str(last)
    curves = f", learning curves and metrics.csv in {run_dir(last)}" if done else ""
    return f"kept {last} ({done}{of} epochs done{curves}); resume: {resume_command(argv, which)}"
