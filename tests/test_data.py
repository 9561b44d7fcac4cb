"""The shared data module: search order, verification, parsing errors, split and standardisation."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from sepconv.data import DEBIAN_DIR, FashionMNISTError, find_data_dir, load_splits, locate, read_idx
from sepconv.data.files import FILES
from sepconv.data.splits import pixel_mean_std

pytestmark = pytest.mark.realdata

SPEC = {f.key: f for f in FILES}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere: empty cache, no SEPCONV_DATA_DIR, Debian's directory hidden."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SEPCONV_DATA_DIR", raising=False)
    monkeypatch.setattr(locate, "DEBIAN_DIR", tmp_path / "no-debian")
    return tmp_path


def copy_real(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copy(DEBIAN_DIR / f.filename, directory / f.filename)
    return directory


def rewrite(path: Path, edit) -> None:
    """Replace the decompressed content of a .gz file by ``edit(content)``."""
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(edit(bytearray(data))))


def test_split_sizes_and_layouts(splits) -> None:
    assert splits.x_train.shape == (55000, 28, 28, 1) and splits.y_train.shape == (55000,)
    assert splits.x_val.shape == (5000, 28, 28, 1) and splits.x_test.shape == (10000, 28, 28, 1)
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int64
    nchw = splits.images("test", "NCHW")
    assert nchw.shape == (10000, 1, 28, 28) and np.shares_memory(nchw, splits.x_test)


def test_validation_is_first_5000_training_images(splits) -> None:
    raw_labels = read_idx(splits.data_dir / SPEC["train_labels"].filename)
    np.testing.assert_array_equal(splits.y_val, raw_labels[:5000])
    np.testing.assert_array_equal(splits.y_train, raw_labels[5000:])
    assert set(np.unique(splits.y_test)) == set(range(10))


def test_standardisation_statistics(splits) -> None:
    raw = read_idx(splits.data_dir / SPEC["train_images"].filename)[5000:].astype(np.float64)
    assert splits.mean == pytest.approx(raw.mean(), abs=1e-9)
    assert splits.std == pytest.approx(raw.std(), abs=1e-9)  # population std, as StandardScaler
    assert splits.mean == pytest.approx(72.9379, abs=1e-4) and splits.std == pytest.approx(89.9897, abs=1e-4)
    x = splits.x_train.astype(np.float64)
    assert abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-6
    # validation/test use the training statistics, so they are not exactly centred
    assert abs(splits.x_test.mean()) > 1e-4
    assert splits.background == pytest.approx(-splits.mean / splits.std, rel=1e-6)


def test_standardised_images_are_the_float64_formula_rounded_once(splits) -> None:
    """The lookup table gives bit for bit ``float32((x - mean) / std)`` evaluated in float64."""
    raw = read_idx(splits.data_dir / SPEC["train_images"].filename)
    u8 = raw[5000:]
    assert (splits.mean, splits.std) == (u8.mean(dtype=np.float64), u8.std(dtype=np.float64))
    formula = ((raw.astype(np.float64) - splits.mean) / splits.std).astype(np.float32).reshape(-1, 28, 28, 1)
    assert np.array_equal(splits.x_train, formula[5000:]) and np.array_equal(splits.x_val, formula[:5000])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_mean_std_from_the_histogram(seed: int) -> None:
    images = np.random.default_rng(seed).integers(0, 256, size=(500, 28, 28), dtype=np.uint8)
    mean, std = pixel_mean_std(images)
    assert mean == pytest.approx(images.mean(dtype=np.float64), rel=1e-14)
    assert std == pytest.approx(images.std(dtype=np.float64), rel=1e-14)
    with pytest.raises(TypeError, match="needs uint8 images, received float32"):
        pixel_mean_std(images.astype(np.float32))


@pytest.mark.parametrize("source", ["cache", "debian"])
def test_search_order_without_explicit_dir(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    dirs = {name: copy_real(isolated / name) for name in ("cache/sepconv/fashion-mnist", "debian")}
    monkeypatch.setattr(locate, "DEBIAN_DIR", dirs["debian"])
    if source == "debian":  # a cache missing one file is skipped
        (dirs["cache/sepconv/fashion-mnist"] / FILES[0].filename).unlink()
    expected = dirs["debian" if source == "debian" else "cache/sepconv/fashion-mnist"]
    assert find_data_dir(download=False) == expected


@pytest.mark.parametrize("how", ["argument", "env", "argument-over-env"])
def test_explicit_dir_is_used(isolated: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    explicit = copy_real(isolated / "explicit")
    copy_real(isolated / "cache/sepconv/fashion-mnist")
    if how == "env":
        monkeypatch.setenv("SEPCONV_DATA_DIR", str(explicit))
        assert find_data_dir(download=False) == explicit
    else:
        if how == "argument-over-env":
            monkeypatch.setenv("SEPCONV_DATA_DIR", str(copy_real(isolated / "env")))
        assert find_data_dir(explicit, download=False) == explicit


@pytest.mark.parametrize("how", ["argument", "env"])
def test_explicit_dir_is_authoritative(isolated: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """A file missing from the directory asked for is refused by name, though complete copies exist."""
    explicit = copy_real(isolated / "explicit")
    monkeypatch.setattr(locate, "DEBIAN_DIR", copy_real(isolated / "debian"))
    copy_real(isolated / "cache/sepconv/fashion-mnist")
    (explicit / "t10k-labels-idx1-ubyte.gz").unlink()
    origin = "data_dir" if how == "argument" else r"\$SEPCONV_DATA_DIR"
    if how == "env":
        monkeypatch.setenv("SEPCONV_DATA_DIR", str(explicit))
    arg = explicit if how == "argument" else None
    message = rf"explicit/t10k-labels-idx1-ubyte\.gz: file not found; {origin} is used alone"
    with pytest.raises(FashionMNISTError, match=message):
        find_data_dir(arg, download=False)
    with pytest.raises(FashionMNISTError, match=message):
        load_splits(arg, download=False)
    # with downloads allowed it downloads into that directory, or fails naming it; no fallback either way
    with pytest.raises(
        FashionMNISTError, match=r"could not download t10k-labels-idx1-ubyte\.gz into .*explicit"
    ):
        find_data_dir(arg, mirrors=["http://127.0.0.1:9/"])
    assert sorted(p.name for p in explicit.iterdir()) == sorted(f.filename for f in FILES[:3])


def test_explicit_path_that_is_a_file(isolated: Path) -> None:
    (isolated / "a-file").write_text("x")
    with pytest.raises(FashionMNISTError, match=r"a-file: not a directory \(data_dir\)"):
        find_data_dir(isolated / "a-file", download=False)


def test_missing_everywhere_names_files_and_places(isolated: Path) -> None:
    with pytest.raises(FashionMNISTError, match=r"train-images-idx3-ubyte\.gz.*searched .*no-debian"):
        find_data_dir(download=False)


def test_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(FashionMNISTError, match=r"t10k-labels-idx1-ubyte\.gz: file not found"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", SPEC["test_labels"])


def _bump_last_label(data: bytes) -> bytes:
    return data[:-1] + bytes([(data[-1] + 1) % 10])


def _wrong_magic(data: bytes) -> bytes:
    return b"\x00\x00\x08\x04" + data[4:]


def _claim_5000_images(data: bytes) -> bytes:
    return data[:4] + (5000).to_bytes(4, "big") + data[8 : 16 + 5000 * 784]


@pytest.mark.parametrize(
    ("key", "corrupt", "verify", "message"),
    [
        ("train_labels", lambda p: p.write_bytes(p.read_bytes()[:100]), True, "not a valid gzip file"),
        ("train_labels", lambda p: p.write_bytes(b"plain text"), True, "not a valid gzip file"),
        ("test_labels", lambda p: rewrite(p, _bump_last_label), True, "SHA-256 of the decompressed content"),
        ("test_labels", lambda p: rewrite(p, _wrong_magic), False, "magic number 0x00000804"),
        ("test_labels", lambda p: rewrite(p, lambda d: d[:-10]), False, r"header says dims \(10000,\)"),
        ("test_labels", lambda p: rewrite(p, lambda d: d[:-1] + b"\x0c"), False, "label 12 at index 9999"),
        ("test_labels", lambda p: rewrite(p, lambda d: d[:-1] + b"\x2a"), True, r"label 42 .* 0\.\.9"),
        ("test_labels", lambda p: rewrite(p, _wrong_magic), True, "magic number 0x00000804"),
        ("test_images", lambda p: rewrite(p, _claim_5000_images), False, r"\(5000, 28, 28\), expected"),
        ("test_labels", lambda p: p.write_bytes(gzip.compress(bytes(20_000))), True, "more than 10008 bytes"),
        ("test_labels", lambda p: (p.unlink(), p.mkdir()), True, "cannot be read"),
    ],
    ids=[
        "truncated-gz", "not-gzip", "checksum", "magic", "short-body", "label-range", "label-42-verified",
        "magic-verified", "wrong-count", "too-large", "a-directory",
    ],
)  # fmt: skip
def test_corrupt_files_named(tmp_path: Path, key: str, corrupt, verify: bool, message: str) -> None:
    directory = copy_real(tmp_path / "data")
    path = directory / SPEC[key].filename
    corrupt(path)
    with pytest.raises(FashionMNISTError, match=message) as info:
        read_idx(path, SPEC[key], verify=verify)
    assert str(path) in str(info.value)
    if verify:
        with pytest.raises(FashionMNISTError, match=SPEC[key].filename):
            load_splits(directory, download=False)


def test_splits_cached_per_process(splits) -> None:
    assert load_splits(splits.data_dir, download=False).x_train is not splits.x_train  # new float arrays
    from sepconv.data.splits import load_raw

    assert load_raw(splits.data_dir)[0] is load_raw(splits.data_dir)[0]  # parsed once
