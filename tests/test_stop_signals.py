"""How ``sepconv-torch`` turns Lightning's ways of stopping on a signal into statuses 143 and 130."""

from __future__ import annotations

import signal

import pytest
from lightning.pytorch.utilities.exceptions import SIGTERMException

from sepconv.errors import Terminated
from sepconv_torch import signals


def test_sigterm_exception_is_terminated_on_rank_zero_and_quiet_elsewhere() -> None:
    with signals.handled():
        assert isinstance(signals.as_stop(SIGTERMException(), 0), Terminated)
        stop = signals.as_stop(SIGTERMException(), 1)
        assert isinstance(stop, SystemExit) and stop.code == 143


def test_lightnings_exit_after_ctrl_c_is_an_interruption() -> None:
    with signals.handled():
        assert signals.as_stop(SystemExit(1), 0) is None  # no SIGINT came: a plain exit
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert isinstance(signals.as_stop(SystemExit(1), 0), KeyboardInterrupt)
        stop = signals.as_stop(SystemExit(1), 1)
        assert isinstance(stop, SystemExit) and stop.code == 130


def test_any_error_after_sigterm_is_a_termination() -> None:
    """A DDP rank whose peers stopped first fails on the lost connection; it was still terminated."""
    with signals.handled():
        assert signals.as_stop(RuntimeError("Connection closed by peer"), 0) is None
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
        assert isinstance(signals.as_stop(RuntimeError("Connection closed by peer"), 0), Terminated)


def test_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with signals.handled():
        assert signal.getsignal(signal.SIGTERM) is not before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_the_sigterm_notifier_makes_no_collective_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under DDP the handler can run inside the backward, mid all-reduce: a broadcast there hangs every rank.

    Ours passes SIGTERM on to the other ranks and sets the flag, and calls no ``torch.distributed``
    collective even where a process group of two is up; Lightning's own notifier (2.6) broadcasts.
    """
    import inspect
    from types import SimpleNamespace

    import lightning as L
    import torch

    def no_collective(*args: object, **kwargs: object) -> None:
        raise AssertionError("a collective call inside the SIGTERM handler")

    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    killed: list[int] = []
    monkeypatch.setattr(trainer.strategy, "_launcher", SimpleNamespace(kill=killed.append), raising=False)
    monkeypatch.setattr(type(trainer), "world_size", property(lambda self: 2))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "broadcast", no_collective)
    connector = trainer._signal_connector
    lightnings = connector._sigterm_notifier_fn
    if "broadcast" in inspect.getsource(lightnings):
        with pytest.raises(AssertionError, match="collective"):
            lightnings(signal.SIGTERM, None)
    connector.received_sigterm, killed[:] = False, []

    with signals.handled():
        connector._sigterm_notifier_fn(signal.SIGTERM, None)
        connector._sigterm_notifier_fn(signal.SIGTERM, None)  # a second SIGTERM is not passed on again
    assert connector.received_sigterm and killed == [signal.SIGTERM]
    assert connector._sigterm_notifier_fn.__func__ is lightnings.__func__  # Lightning's again afterwards
