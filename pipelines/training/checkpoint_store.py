"""Checkpoints on a shared object store, atomically (issue 18).

A run trains with its checkpoints in a local folder (``checkpoint.save``). After each one,
``publish`` packs the latest checkpoint folder into one tar object under a new, unique name
(``<prefix>/epoch-NNNN-<random>.tar``), and only then replaces the small pointer object
``<prefix>/latest.json`` naming it and its SHA-256 (and the best checkpoint's). An object store
replaces an object whole, so a reader sees the old pointer or the new one; an object written whose
pointer was not (a worker killed between the two) is never read. ``restore`` follows the pointer,
reads each object through a content-hash cache (``fetch``: checked against the SHA-256) and
installs it as a local checkpoint folder that ``checkpoint.latest`` finds.

The store is anything with Django's ``Storage`` methods used here (``open``, ``save``, ``delete``):
this module imports no Django.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from safetensors.torch import load as st_load

from . import checkpoint

POINTER = "latest.json"
FILES = ("weights.safetensors", "optimizer.safetensors", "state.json")


class ObjectStore(Protocol):
    def open(self, name: str, mode: str = "rb") -> Any: ...

    def save(self, name: str, content: Any, max_length: int | None = None) -> str: ...

    def delete(self, name: str) -> None: ...


# (object name, SHA-256) -> a local, verified copy of the object.
Fetch = Callable[[str, str], Path]


def read_pointer(store: ObjectStore, prefix: str) -> dict[str, Any] | None:
    """The published pointer under ``prefix``: ``{"checkpoint": ref, "best": ref | None}``, each ref
    ``{"name", "sha256", "epoch", "bytes"}``; None when nothing was published."""
    try:
        with store.open(f"{prefix}/{POINTER}", "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    pointer = json.loads(raw)
    if not isinstance(pointer, dict) or "checkpoint" not in pointer:
        raise ValueError(f"{prefix}/{POINTER} is not a checkpoint pointer")
    return pointer


def publish(root: Path, store: ObjectStore, prefix: str) -> dict[str, Any] | None:
    """Publish the latest local checkpoint under ``root`` to ``store`` under ``prefix``: its object
    first, then the pointer; objects the previous pointer named and the new one does not are then
    deleted. Returns the new pointer (None when ``root`` has no checkpoint, or it was published)."""
    folder = checkpoint.latest(root)
    if folder is None:
        return None
    previous = read_pointer(store, prefix)
    epoch = _epoch(folder)
    if previous is not None and previous["checkpoint"]["epoch"] == epoch:
        return None
    latest_ref = _upload(folder, store, prefix, epoch)
    best_ref = _best_ref(root, store, prefix, latest_ref, previous)
    pointer = {"checkpoint": latest_ref, "best": best_ref}
    store.save(f"{prefix}/{POINTER}", io.BytesIO(json.dumps(pointer).encode()))
    if previous is not None:
        live = {latest_ref["name"], best_ref["name"] if best_ref else None}
        for ref in (previous["checkpoint"], previous.get("best")):
            if ref and ref["name"] not in live:
                store.delete(ref["name"])
    return pointer


def restore(store: ObjectStore, prefix: str, root: Path, fetch: Fetch) -> int | None:
    """Install the checkpoint the pointer under ``prefix`` names (and its best) as the local
    checkpoint under ``root``, which ``checkpoint.latest(root)`` then returns. Returns its epoch,
    or None when nothing was published. Raises ``DigestMismatch`` (from ``fetch``) for an object
    whose bytes are not the ones published."""
    pointer = read_pointer(store, prefix)
    if pointer is None:
        return None
    latest_ref, best_ref = pointer["checkpoint"], pointer.get("best")
    latest_is_best = best_ref is not None and best_ref["name"] == latest_ref["name"]
    if best_ref is not None and not latest_is_best:
        _install(root, fetch(best_ref["name"], best_ref["sha256"]), best=True)
    _install(root, fetch(latest_ref["name"], latest_ref["sha256"]), best=latest_is_best)
    return int(latest_ref["epoch"])


def _epoch(folder: Path) -> int:
    return int(json.loads((folder / "state.json").read_text())["epoch"])


def _upload(folder: Path, store: ObjectStore, prefix: str, epoch: int) -> dict[str, Any]:
    name = f"{prefix}/epoch-{epoch:04d}-{uuid.uuid4().hex[:12]}.tar"
    with tempfile.TemporaryFile() as packed:
        with tarfile.open(fileobj=packed, mode="w") as tar:
            for file in FILES:
                tar.add(folder / file, arcname=file)
        size = packed.tell()
        packed.seek(0)
        digest = _sha256(packed)
        packed.seek(0)
        saved = store.save(name, packed)
    if saved != name:
        raise OSError(f"the store saved {name!r} as {saved!r}")
    return {"name": name, "sha256": digest, "epoch": epoch, "bytes": size}


def _best_ref(root: Path, store: ObjectStore, prefix: str, latest_ref: dict[str, Any],
              previous: dict[str, Any] | None) -> dict[str, Any] | None:
    best = root / checkpoint.BEST
    if not best.is_dir():
        return None
    epoch = _epoch(best)
    if epoch == latest_ref["epoch"]:
        return latest_ref
    if previous is not None and previous.get("best") and previous["best"]["epoch"] == epoch:
        return dict(previous["best"])
    return _upload(best, store, prefix, epoch)  # e.g. the first publish of a run resumed locally


def _install(root: Path, packed: Path, *, best: bool) -> None:
    files: dict[str, bytes] = {}
    with tarfile.open(packed, mode="r") as tar:
        for file in FILES:  # only these members, read as bytes: nothing is extracted to a path
            member = tar.extractfile(file)
            if member is None:
                raise ValueError(f"{packed.name} has no {file}")
            files[file] = member.read()
    state = json.loads(files["state.json"])
    checkpoint.save(root, int(state["epoch"]), st_load(files["weights.safetensors"]),
                    st_load(files["optimizer.safetensors"]), state, best=best)


def _sha256(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()
