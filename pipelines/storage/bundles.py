"""A folder as one object on a shared store (issue 18), for every area that publishes folders
(models and deployments, dataset versions' caches).

A folder is packed into one deterministic, uncompressed tar whose name carries its SHA-256, and a
small pointer object ``<folder>/bundle.json`` names that tar and its hash. The tar is written
first and the pointer last, so a reader never finds a pointer to a missing object. A reader
fetches the tar through its content-hash cache (checked against the hash) and unpacks it: into a
private folder removed after use (``unpacked``), or beside the folder's place and renamed into it,
whole or not at all (``install``). No Django here: the serving app uses it too.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

POINTER = "bundle.json"


def pointer_name(folder: str) -> str:
    """The pointer object of the folder ``folder`` (a POSIX path under its area's prefix)."""
    return f"{folder.rstrip('/')}/{POINTER}"


def pack(folder: Path, out: IO[bytes]) -> str:
    """Write ``folder``'s regular files (subfolders included) to ``out`` as an uncompressed tar in a
    fixed order, with no owner or time; returns its SHA-256."""
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


def pointer(name: str, sha256: str) -> bytes:
    """The pointer's bytes: the packed object's ``name`` (under the area's prefix) and hash."""
    return json.dumps({"name": name, "sha256": sha256}).encode()


def read_pointer(raw: bytes) -> dict[str, Any]:
    """The pointer's ``{"name", "sha256"}``; raises ``ValueError`` for anything else."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("sha256"), str) or not isinstance(data.get("name"), str):
        raise ValueError("not a bundle pointer")
    return data


def _extract(packed: Path, folder: Path) -> None:
    # Only regular files inside the folder are extracted (tarfile's ``data`` filter).
    with tarfile.open(packed, mode="r") as tar:
        tar.extractall(folder, filter="data")


@contextmanager
def unpacked(packed: Path) -> Iterator[Path]:
    """A private folder holding the files of the tar ``packed``, removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="vmb-bundle-"))
    try:
        _extract(packed, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def install(packed: Path, folder: Path) -> Path:
    """Unpack the tar ``packed`` as ``folder``: into a scratch folder beside it (one copy, same
    file system), then renamed into place, so a reader sees the whole folder or none. When another
    process installed it first, its copy is kept and this one dropped."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".install-{folder.name}-", dir=folder.parent))
    try:
        _extract(packed, scratch)
        os.rename(scratch, folder)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not folder.is_dir():
            raise
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return folder
