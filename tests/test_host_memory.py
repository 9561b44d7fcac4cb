"""Host-side settings of ``SepConvLitModule.setup``: glibc keeps freed memory; no NaN fill of new tensors."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
import torch

from sepconv_torch import SepConvLitModule, build_model
from sepconv_torch import lit_module as lit_module_file


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_settings() -> None:
    code = (
        "import ctypes, resource\n"
        "from sepconv_torch.host_memory import retain_freed_memory\n"
        "assert retain_freed_memory() and retain_freed_memory()\n"
        # a freed 8 MiB block is reused: the second allocation faults in (almost) no new pages
        "libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p\n"
        "def touch():\n"
        "    p = libc.malloc(8 << 20); ctypes.memset(p, 1, 8 << 20); libc.free(ctypes.c_void_p(p))\n"
        "touch(); before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; touch()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) < 100  # glibc's defaults: 2,048 fresh 4 KiB pages (a new mmap each time)


@pytest.mark.parametrize("retain", [True, False])
def test_setup_applies_them_unless_told_not_to(retain: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(lit_module_file, "retain_freed_memory", lambda: calls.append(True) or True)
    SepConvLitModule(retain_host_memory=retain).setup("fit")
    assert calls == ([True] if retain else [])


@pytest.mark.parametrize("fill", [True, False])
def test_setup_sets_the_nan_fill_of_deterministic_mode(fill: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.utils.deterministic, "fill_uninitialized_memory", not fill)  # restored after
    SepConvLitModule(fill_uninitialized_memory=fill, retain_host_memory=False).setup("fit")
    assert torch.utils.deterministic.fill_uninitialized_memory is fill


def test_without_the_nan_fill_a_deterministic_step_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (no NaN fill) trains bit for bit as PyTorch's deterministic default: no kernel of the
    network reads memory it has not written."""
    monkeypatch.setattr(torch.utils.deterministic, "fill_uninitialized_memory", True)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        x, y = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
        grads = {}
        for fill in (True, False):
            torch.utils.deterministic.fill_uninitialized_memory = fill
            module = SepConvLitModule(initializer="lecun_normal")
            module.net.load_state_dict(build_model(seed=0, initializer="lecun_normal").state_dict())
            torch.nn.functional.cross_entropy(module(x), y).backward()
            grads[fill] = [p.grad for p in module.parameters()]
    finally:
        torch.use_deterministic_algorithms(previous)
    assert all(torch.equal(a, b) for a, b in zip(grads[True], grads[False], strict=True))
