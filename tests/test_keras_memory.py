"""sepconv-keras refuses a training batch that cannot fit in memory, before TensorFlow is killed by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepconv.errors import InputError
from sepconv_keras import memory
from sepconv_keras.memory import RESERVE_BYTES, TRAIN_BYTES_PER_SAMPLE, available_memory, check_batch_fits

GIB = 2**30


def test_a_batch_that_fits_passes() -> None:
    check_batch_fits(32, available=RESERVE_BYTES + 32 * TRAIN_BYTES_PER_SAMPLE)


def test_a_batch_that_does_not_fit_names_the_largest_that_does() -> None:
    available = 8 * GIB
    fits = (available - RESERVE_BYTES) // TRAIN_BYTES_PER_SAMPLE
    check_batch_fits(fits, available=available)
    with pytest.raises(InputError) as refused:
        check_batch_fits(fits + 1, available=available)
    assert str(refused.value).startswith(f"--batch-size {fits + 1}: Keras training on the CPU needs about ")
    assert "8.0 GiB of memory is available" in str(refused.value)
    assert str(refused.value).endswith(f"the largest batch that fits is about {fits}")


def test_unknown_available_memory_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    check_batch_fits(10**9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MemTotal:       24000000 kB\nMemAvailable:   2000000 kB\n", 2000000 * 1024),
        ("MemTotal:       24000000 kB\n", None),
        ("MemAvailable: lots\n", None),
    ],
)
def test_available_memory_from_meminfo(tmp_path: Path, text: str, expected: int | None) -> None:
    (tmp_path / "meminfo").write_text(text)
    assert available_memory(tmp_path / "meminfo") == expected
    assert available_memory(tmp_path / "missing") is None


@pytest.mark.slow
@pytest.mark.realdata
def test_sepconv_keras_train_refuses_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sepconv_keras.train import main

    monkeypatch.setattr(memory, "available_memory", lambda: 4 * GIB)
    out = tmp_path / "out"
    args = ["train", "--batch-size", "8192", "--output-dir", str(out), "--verbose", "0", "--no-download"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sepconv-keras: error: --batch-size 8192: Keras training on the CPU needs about ")
    assert not out.exists()
