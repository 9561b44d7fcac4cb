"""benchmarks/step_time.py --architecture: refusals in one line, the worker commands, the JSON's shape.

The workers (a training run each) are replaced by canned results: only the driver is under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from commands import ROOT, benchmark

SCRIPT = ROOT / "benchmarks" / "step_time.py"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--architecture", "mobilenet_v1_025_32", "--paths", "torch", "torch-literal-order"],
            "torch-literal-order",
        ),
        (["--architecture", "standard", "--paths", "lightning-onednn-backward"], "reference network only"),
        (["--architecture", "no_such_network"], "no such file"),
    ],
)
def test_refusals_are_one_line(args: list[str], words: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("step_time: error:") and words in lines[0]


def test_reference_description_keeps_the_variant_paths() -> None:
    module = benchmark("step_time")
    assert module._check_architecture("reference", ["torch", "torch-literal-order"]) == "reference"
    assert module._check_architecture("mobilenet_v1_025_32", ["lightning-bf16", "torch-malloc-default"]) == (
        "mobilenet_v1_025_32"
    )


def test_json_has_medians_and_the_architecture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each worker gets ``--architecture`` and ``--threads``; ``medians[path]`` holds both keys."""
    module = benchmark("step_time")
    commands: list[list[str]] = []
    canned = iter([4.0, 6.0, 2.0, 3.0, 5.0, 1.0])  # keras, lightning per round

    real_run = subprocess.run

    def fake_run(command: list[str], **kwargs: object) -> object:
        if "--worker" not in command:  # lscpu
            return real_run(command, **kwargs)  # type: ignore[call-overload]
        commands.append(command)
        ms = next(canned)
        return SimpleNamespace(
            returncode=0, stdout=json.dumps({"step_ms": ms, "infer256_ms": 10 * ms}), stderr=""
        )

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    out = tmp_path / "t.json"
    args = ["--architecture", "standard", "--paths", "keras", "lightning", "--rounds", "3", "--threads", "1"]
    assert module.main([*args, "--device", "cpu", "--json", str(out)]) == 0
    assert len(commands) == 6 and all(
        c[c.index("--architecture") + 1] == "standard" and c[c.index("--threads") + 1] == "1"
        for c in commands
    )
    data = json.loads(out.read_text())
    assert data["architecture"] == "standard" and data["threads"] == 1
    assert data["medians"] == {
        "keras": {"step_ms": 4.0, "infer256_ms": 40.0},
        "lightning": {"step_ms": 3.0, "infer256_ms": 30.0},
    }
    assert [r["step_ms"] for r in data["runs"]["lightning"]] == [6.0, 3.0, 1.0]


def test_profile_and_op_times_together_are_refused_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--profile", "--op-times"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "step_time: error: --profile and --op-times are two views of one step: give one of them"
    ]


def test_op_times_counts_every_aten_call_of_the_step(capsys: pytest.CaptureFixture[str]) -> None:
    """The reference description runs 11 convolutions forward (conv1, five depthwise, five pointwise) and
    as many backward: the timer must see each of them once per step."""
    table = benchmark("step_time").op_times(3, "reference")
    calls = {op: sum(r["calls"] for r in table if r["op"] == op) for op in {r["op"] for r in table}}
    assert calls["aten.convolution"] == 11
    # conv1 needs no input gradient, but still one backward call for its weight
    assert calls["aten.convolution_backward"] == 11
    assert [r["ms"] for r in table] == sorted((r["ms"] for r in table), reverse=True)
    out = capsys.readouterr().out
    assert "network: reference" in out and "| aten.convolution_backward |" in out


def test_profile_leaves_input_shapes_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recording shapes slowed the memory-bound kernels inside the profiled step (docs/performance.md)."""
    import torch.profiler

    real = torch.profiler.profile
    asked: list[dict[str, object]] = []

    def spy(*args: object, **kwargs: object) -> object:
        asked.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.profiler, "profile", spy)
    benchmark("step_time").profile(2, "cpu", "reference")
    assert len(asked) == 1 and not asked[0].get("record_shapes", False)
    out = capsys.readouterr().out
    assert "aten::convolution_backward" in out and "Input Shapes" not in out


INTEL_LSCPU = """Architecture:                            x86_64
Vendor ID:                               GenuineIntel
Model name:                              Intel(R) Xeon(R) Processor
CPU family:                              6
Model:                                   167
Flags:                                   fpu sse avx2 avx512f avx512bw amx_bf16 amx_tile amx_int8
L1d cache:                               96 KiB (2 instances)
L2 cache:                                4 MiB (2 instances)
L3 cache:                                480 MiB (1 instance)
"""
AMD_LSCPU = """Model name:                              AMD EPYC 7B13
CPU family:                              25
Model:                                   1
Flags:                                   fpu sse avx2 avx512f avx512_bf16
L2 cache:                                1 MiB (2 instances)
L3 cache:                                32 MiB (1 instance)
"""


@pytest.mark.parametrize(
    ("lscpu", "line"),
    [
        (INTEL_LSCPU, "Intel(R) Xeon(R) Processor (family 6 model 167; AVX-512, AMX; L2 4 MiB, L3 480 MiB)"),
        (AMD_LSCPU, "AMD EPYC 7B13 (family 25 model 1; AVX-512; L2 1 MiB, L3 32 MiB)"),
        ("Model name: Some CPU\n", "Some CPU"),
    ],
)
def test_the_cpu_line_tells_hosts_of_one_model_name_apart(lscpu: str, line: str) -> None:
    """Two hosts that both call themselves "Intel(R) Xeon(R) Processor" differ in model and caches."""
    assert benchmark("step_time").describe_cpu(lscpu) == line
