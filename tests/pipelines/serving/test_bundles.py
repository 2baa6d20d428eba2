"""Serving folders packed for the object store (pipelines/serving/bundles.py): the same folder
packs to the same bytes (its name is its hash), unpacks exactly, and a tar that would write
outside its folder is refused."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pipelines.serving import bundles


def _folder(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "card.json").write_text('{"name": "m"}')
    (root / "model.onnx").write_bytes(bytes(range(256)) * 10)
    (root / "data" / "weights.bin").write_bytes(b"\x01" * 1000)
    return root


def test_pack_is_deterministic_and_unpacks_exactly(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "serving")
    first, second = io.BytesIO(), io.BytesIO()
    digest = bundles.pack(folder, first)
    (folder / "card.json").touch()  # a newer modification time changes nothing packed
    assert bundles.pack(folder, second) == digest == hashlib.sha256(first.getvalue()).hexdigest()
    packed = tmp_path / "packed.tar"
    packed.write_bytes(first.getvalue())
    with bundles.unpacked(packed) as out:
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        assert files == ["card.json", "data/weights.bin", "model.onnx"]
        assert (out / "model.onnx").read_bytes() == (folder / "model.onnx").read_bytes()
        kept = out
    assert not kept.exists()  # the private copy is gone after the block
    assert bundles.read_pointer(bundles.pointer(digest)) == {"name": f"bundles/{digest}.tar", "sha256": digest}


def test_a_member_outside_the_folder_is_refused(tmp_path: Path) -> None:
    packed = tmp_path / "evil.tar"
    with tarfile.open(packed, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(tarfile.OutsideDestinationError), bundles.unpacked(packed):
        pass
    assert not (tmp_path / "escaped.txt").exists()


def test_a_pointer_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="pointer"):
        bundles.read_pointer(b'{"name": 3}')
