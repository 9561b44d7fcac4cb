"""sepconv.native_logs: TensorFlow's start-up INFO and WARNING records leave stderr, nothing else does."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from commands import run

from sepconv.native_logs import drop_native_logs, dropped_lines, reports_no_cuda_driver

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
INFO = "I0000 00:00:1795896873.171065   27374 port.cc:153] oneDNN custom operations are on.\n"
WARN = "W1128 19:58:55.123456    812 gpu_device.cc:2344] Cannot dlopen some GPU libraries.\n"
CPU = "I0000 00:00:1795896647.237268   26815 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
CPU_2 = "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n"
ERROR = "E0000 00:00:1795896809.567511   27203 cuda_platform.cc:52] failed call to cuInit (303)\n"
NO_DRIVER = (
    "I0000 00:00:1795904159.298682   12571 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.\n"
)
CUINIT = (
    "E0000 00:00:1795904160.998368   12571 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA "
    "error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
FATAL = "F1128 19:58:55.123456    812 logging.cc:1] Check failed\n"
PYTHON = "/usr/lib/python3/x.py:12: UserWarning: something Python said\n"


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        ([BANNER, INFO, INFO], []),
        ([WARN], []),
        ([CPU, CPU_2], []),
        ([ERROR, FATAL], [ERROR, FATAL]),
        ([PYTHON, INFO, PYTHON], [PYTHON, PYTHON]),
        # the continuation line goes only right after a dropped record
        ([CPU_2, PYTHON, CPU_2], [CPU_2, PYTHON, CPU_2]),
        ([ERROR, CPU_2], [ERROR, CPU_2]),
        # a record's shape inside a line, or without file:line, is not a record
        (["see I0000 00:00:1.0 1 a.cc:1] here\n", "I0000 not a record\n"], None),
        (["WARNING: something else\n"], None),
        # cuInit's failure goes only after TensorFlow has said there is no driver
        ([NO_DRIVER, INFO, CUINIT, PYTHON], [PYTHON]),
        ([CUINIT, INFO], [CUINIT]),
        ([CUINIT, NO_DRIVER], [CUINIT]),
        ([NO_DRIVER, ERROR, FATAL], [ERROR, FATAL]),
        (["see " + NO_DRIVER, CUINIT], ["see " + NO_DRIVER, CUINIT]),
    ],
)
def test_dropped_lines(lines: list[str], kept: list[str] | None) -> None:
    kept = lines if kept is None else kept
    got_kept, got_dropped = dropped_lines("".join(lines))
    assert got_kept == kept
    assert sorted(got_kept + got_dropped) == sorted(lines)


def test_block_output_written_back_in_order(capfd: pytest.CaptureFixture[str]) -> None:
    with drop_native_logs() as dropped:
        os.write(2, (BANNER + INFO).encode())
        print("from python", file=sys.stderr)
        os.write(2, (ERROR + CPU + CPU_2).encode())
        print("to stdout")
    os.write(2, b"after the block\n")
    out, err = capfd.readouterr()
    assert err == "from python\n" + ERROR + "after the block\n"
    assert out == "to stdout\n"
    assert dropped == [BANNER, INFO, CPU, CPU_2]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [([INFO, NO_DRIVER], True), ([INFO, CUINIT], False), (["see " + NO_DRIVER], False), ([], False)],
)
def test_reports_no_cuda_driver(lines: list[str], expected: bool) -> None:
    assert reports_no_cuda_driver(lines) is expected


def test_raising_block_still_writes_back_and_restores(capfd: pytest.CaptureFixture[str]) -> None:
    before = os.fstat(2)
    with pytest.raises(RuntimeError, match="boom"), drop_native_logs():
        os.write(2, (INFO + PYTHON).encode())
        raise RuntimeError("boom")
    assert os.path.samestat(os.fstat(2), before)
    assert capfd.readouterr().err == PYTHON


@pytest.mark.slow
def test_torch_after_quiet_tensorflow_says_nothing_on_a_machine_without_gpu() -> None:
    """TensorFlow's failed CUDA start made PyTorch warn "Unexpected error from cudaGetDeviceCount()"."""
    code = (
        "from sepconv.compat import import_tensorflow; import_tensorflow(quiet=True); import torch; "
        "print(torch.cuda.device_count())"
    )
    python = [sys.executable, "-W", "always"]
    proc = run("python", "-c", code, python=python, env={"TF_CPP_MIN_LOG_LEVEL": None})
    assert proc.returncode == 0, proc.stderr[-3000:]
    if proc.stdout.strip() == "0" and torch.cuda.device_count() == 0:
        assert proc.stderr == ""
