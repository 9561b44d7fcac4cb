"""sepconv-torch refuses a CPU training batch that cannot fit in memory, before the OS kills the process."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.accelerators import CPUAccelerator

from sepconv import memory as shared
from sepconv.errors import InputError
from sepconv.memory import GIB, TrainingMemory
from sepconv_torch import memory
from sepconv_torch.memory import RESERVE_BYTES, TORCH_CPU, TRAIN_BYTES_PER_SAMPLE, check_fit_memory

#: peak RSS (bytes) of one-step `sepconv-torch fit` runs (/usr/bin/time -v, 2026-12-02), as in
#: benchmarks/torch_memory.py
MEASURED = {256: 1613452 * 1024, 1024: 2127112 * 1024, 2048: 2812948 * 1024, 4096: 4293680 * 1024}


def trainer(devices: int = 1, local_rank: int = 0, accelerator: object | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        accelerator=accelerator or CPUAccelerator(), local_rank=local_rank, num_devices=devices
    )


def datamodule(batch_size: int) -> SimpleNamespace:
    return SimpleNamespace(hparams=SimpleNamespace(batch_size=batch_size))


def test_the_estimate_covers_the_measured_peaks_by_at_most_a_tenth() -> None:
    for batch, peak in MEASURED.items():
        assert peak <= TORCH_CPU.need(batch) <= 1.1 * peak, batch


def test_a_batch_that_does_not_fit_names_the_largest_that_does() -> None:
    available = 8 * GIB
    fits = (available - RESERVE_BYTES) // TRAIN_BYTES_PER_SAMPLE
    check_fit_memory(trainer(), datamodule(fits), available)
    with pytest.raises(InputError) as refused:
        check_fit_memory(trainer(), datamodule(fits + 1), available)
    message = str(refused.value)
    assert message.startswith(f"--data.batch_size {fits + 1}: PyTorch training on the CPU needs about ")
    assert "8.0 GiB of memory is available (the operating system would kill the process" in message
    assert message.endswith(f"the largest batch that fits is about {fits}")


def test_every_local_process_holds_its_own_batch() -> None:
    available = 8 * GIB
    fits = (available // 2 - RESERVE_BYTES) // TRAIN_BYTES_PER_SAMPLE
    check_fit_memory(trainer(devices=2), datamodule(fits), available)
    with pytest.raises(InputError, match=rf"at this batch size in 2 processes .* fits is about {fits}$"):
        check_fit_memory(trainer(devices=2), datamodule(fits + 1), available)


def test_only_cpu_training_in_the_launching_process_is_checked() -> None:
    check_fit_memory(trainer(local_rank=1), datamodule(55_000), GIB)
    check_fit_memory(trainer(accelerator=object()), datamodule(55_000), GIB)


def test_unknown_available_memory_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    check_fit_memory(trainer(), datamodule(55_000))


def test_both_frameworks_share_the_model() -> None:
    from sepconv_keras import memory as keras_memory

    assert isinstance(TORCH_CPU, TrainingMemory) and isinstance(keras_memory.KERAS_CPU, TrainingMemory)
    assert memory.available_memory is shared.available_memory is keras_memory.available_memory


@pytest.mark.slow
@pytest.mark.realdata
def test_sepconv_torch_fit_refuses_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sepconv_torch.cli import cli_main

    monkeypatch.setattr(memory, "available_memory", lambda: 2 * GIB)
    root = tmp_path / "runs"
    args = ["fit", "--data.batch_size", "1024", "--trainer.max_epochs", "1"]
    args += ["--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    args += ["--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    fits = (2 * GIB - RESERVE_BYTES) // TRAIN_BYTES_PER_SAMPLE
    assert len(err) == 1 and err[0].startswith(
        "sepconv-torch: error: --data.batch_size 1024: PyTorch training on the CPU needs about 2.2 GiB"
    )
    assert err[0].endswith(f"the largest batch that fits is about {fits}")
    assert not list(root.glob("**/*.ckpt"))
