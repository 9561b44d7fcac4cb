"""``retain_freed_memory``: glibc takes the settings, and the default LightningModule applies them."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from sepconv_torch import SepConvLitModule
from sepconv_torch import lit_module as lit_module_file


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
