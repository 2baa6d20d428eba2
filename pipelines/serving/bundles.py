"""Serving folders on a shared object store (issue 18), so a serving process on another machine
needs only the store.

A ready deployment's serving folder is packed into one tar object named by its SHA-256
(``bundles/<sha256>.tar`` under the models prefix), and a small pointer object
``<folder>/bundle.json`` names it and its hash. A serving process reads the pointer, fetches the
tar through its content-hash cache (checked against the hash), and loads the model from a private
copy unpacked from it; the loaded model keeps nothing open in that copy.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

POINTER = "bundle.json"


def bundle_name(sha256: str) -> str:
    """The packed folder's name under the models prefix: its content hash."""
    return f"bundles/{sha256}.tar"


def pointer_name(folder: str) -> str:
    """The pointer object of the serving folder ``folder`` (relative to the models prefix)."""
    return f"{folder.rstrip('/')}/{POINTER}"


def pack(folder: Path, out: IO[bytes]) -> str:
    """Write ``folder``'s regular files (subfolders included) to ``out`` as an uncompressed tar in a
    fixed order; returns its SHA-256."""
    start = out.tell()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
    out.seek(start)
    digest = hashlib.sha256()
    while chunk := out.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def pointer(sha256: str) -> bytes:
    return json.dumps({"name": bundle_name(sha256), "sha256": sha256}).encode()


def read_pointer(raw: bytes) -> dict[str, Any]:
    """The pointer's ``{"name", "sha256"}``; raises ``ValueError`` for anything else."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("sha256"), str) or not isinstance(data.get("name"), str):
        raise ValueError("not a serving bundle pointer")
    return data


@contextmanager
def unpacked(packed: Path) -> Iterator[Path]:
    """A private folder holding the files of the tar ``packed``, removed when the block ends.
    Only regular files inside the folder are extracted (tarfile's ``data`` filter)."""
    folder = Path(tempfile.mkdtemp(prefix="vmb-serving-"))
    try:
        with tarfile.open(packed, mode="r") as tar:
            tar.extractall(folder, filter="data")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
