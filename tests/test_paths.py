"""sepconv.paths: output paths and folders checked before any work, each refusal naming the path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from commands import assert_refused, run

from sepconv.errors import InputError
from sepconv.paths import check_output_dir, check_output_path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("file.txt", "--out {p}: exists and is not a folder"),
        ("file.txt/sub/deeper", "--out {p}: {tmp}/file.txt is not a folder"),
    ],
)
def test_output_dir_refusals(tree: Path, name: str, message: str) -> None:
    path = tree / name
    with pytest.raises(InputError) as refused:
        check_output_dir(path, "--out")
    assert str(refused.value) == message.format(p=path, tmp=tree)


@pytest.mark.parametrize("name", ["folder", "new", "new/deeper/still"])
def test_output_dir_accepted_and_nothing_created(tree: Path, name: str) -> None:
    before = sorted(p.name for p in tree.iterdir())
    check_output_dir(tree / name, "--out")
    assert sorted(p.name for p in tree.iterdir()) == before


def test_read_only_folder_refused(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.access`` says no (as for a read-only folder; root would pass a real one)."""
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tree / "folder")
    with pytest.raises(InputError, match=f"cannot create it, {tree / 'folder'} is not writable"):
        check_output_dir(tree / "folder" / "new", "--out")
    with pytest.raises(InputError, match=r"--out .*folder: not writable"):
        check_output_dir(tree / "folder", "--out")
    with pytest.raises(InputError, match=r"--json .*x\.json: not writable"):
        check_output_path(tree / "folder" / "x.json", "--json")


@pytest.mark.parametrize(
    ("name", "suffix", "message"),
    [
        ("folder", None, "{p}: is a directory, expected a file path"),
        ("missing/x.json", None, "{p}: the folder {tmp}/missing does not exist"),
        ("file.txt/x.json", None, "{p}: the folder {tmp}/file.txt is not a folder"),
        ("x.txt", ".png", "{p}: expected a .png file, found '.txt'"),
    ],
)
def test_output_path_refusals(tree: Path, name: str, suffix: str | None, message: str) -> None:
    path = tree / name
    with pytest.raises(ValueError) as refused:  # the error type is the caller's choice
        check_output_path(path, suffix=suffix, error=ValueError)
    assert str(refused.value) == message.format(p=path, tmp=tree)


@pytest.mark.parametrize("cmd", [["train"], ["predict", "{model}"]])
def test_sepconv_keras_output_dir_that_is_a_file(tree: Path, cmd: list[str]) -> None:
    """Refused before TensorFlow loads (it said ``[Errno 17] File exists`` after loading it)."""
    model = tree / "model.keras"
    import zipfile

    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}")
    args = [c.format(model=model) for c in cmd]
    proc = run("sepconv-keras", *args, "--output-dir", tree / "file.txt")
    assert_refused(proc, "sepconv-keras", f"--output-dir {tree / 'file.txt'}: exists and is not a folder")
