"""Installing a packed folder (pipelines/storage/bundles.py ``install``): the folder appears whole,
by one rename of a scratch copy beside it; a folder already there (another process installed it
first) is kept, and a bad tar leaves neither the folder nor a scratch copy behind."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pipelines.storage import bundles


def _packed(tmp_path: Path) -> Path:
    folder = tmp_path / "made"
    (folder / "sub").mkdir(parents=True)
    (folder / "inputs.npy").write_bytes(b"\x93NUMPY" + bytes(100))
    (folder / "sub" / "recipe.json").write_text("{}")
    packed = tmp_path / "packed.tar"
    with open(packed, "w+b") as out:
        bundles.pack(folder, out)
    return packed


def test_install_puts_the_whole_folder_in_place(tmp_path: Path) -> None:
    target = tmp_path / "machine-b" / "v1" / "cache"
    assert bundles.install(_packed(tmp_path), target) == target
    assert (target / "inputs.npy").read_bytes() == (tmp_path / "made" / "inputs.npy").read_bytes()
    assert (target / "sub" / "recipe.json").read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["cache"]  # no scratch copy left


def test_a_folder_installed_first_by_another_process_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "cache"
    target.mkdir()
    (target / "theirs").write_text("first")
    bundles.install(_packed(tmp_path), target)
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "made", "packed.tar"]


def test_a_tar_that_escapes_leaves_nothing(tmp_path: Path) -> None:
    packed = tmp_path / "evil.tar"
    with tarfile.open(packed, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.OutsideDestinationError):
        bundles.install(packed, tmp_path / "out" / "cache")
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "out" / "escaped.txt").exists()
