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
