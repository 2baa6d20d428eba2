"""Models, exports and deployments on a shared object store (``domain.storage``), so web, workers
and serving processes on other machines need no shared models volume.

Each folder under ``DEPLOY_DIR`` a process writes (a variant's bundle, an export, a deployment's
serving folder) is published packed into one tar named by its SHA-256 (``models/bundles/<sha>.tar``)
with a pointer ``models/<folder>/bundle.json`` (``pipelines.serving.bundles``); a process that
lacks the folder installs it from the store through the content-hash cache (``local_folder``).
The serving index is copied to ``models/serving-index.json`` for serving processes (``serving/store.py``).
In the local default every function here leaves the shared folder as it is.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings

from domain import storage
from pipelines.serving import bundles
from pipelines.serving.keyindex import INDEX_FILE

AREA = "models"


def _models_dir() -> Path:
    return Path(settings.DEPLOY_DIR)


def publish_folder(folder: Path) -> str | None:
    """Publish ``folder`` (under ``DEPLOY_DIR``): its packed object first, then its pointer, so a
    reader never finds a pointer to a missing object. Returns the hash (None in the local default)."""
    if not storage.is_shared_store():
        return None
    with tempfile.TemporaryFile() as packed:
        digest = bundles.pack(folder, packed)
        packed.seek(0)
        _save(bundles.bundle_name(digest), packed)
    relative = folder.relative_to(_models_dir()).as_posix()
    _save(bundles.pointer_name(relative), io.BytesIO(bundles.pointer(digest)))
    return digest


def local_folder(relative: str) -> Path:
    """The folder ``relative`` under ``DEPLOY_DIR`` on this machine: with a shared store, installed
    from its published bundle first when it is not here (``FileNotFoundError`` when it was never
    published; ``DigestMismatch`` when its bytes are not the ones published)."""
    folder = _models_dir() / relative
    if not storage.is_shared_store() or folder.is_dir() or not relative:
        return folder
    with storage.store().open(storage.object_name(AREA, bundles.pointer_name(relative)), "rb") as fh:
        ref = bundles.read_pointer(fh.read())
    packed = storage.fetch(storage.object_name(AREA, ref["name"]), ref["sha256"])
    folder.parent.mkdir(parents=True, exist_ok=True)
    with bundles.unpacked(packed) as unpacked:
        scratch = Path(tempfile.mkdtemp(prefix=".install-", dir=folder.parent))
        shutil.copytree(unpacked, scratch, dirs_exist_ok=True)
        try:
            os.rename(scratch, folder)  # whole or not at all; another process may have installed it first
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
            if not folder.is_dir():
                raise
    return folder


def publish_index(path: Path) -> None:
    """Copy the serving index just written at ``path`` to the store, where serving processes poll it."""
    if storage.is_shared_store():
        _save(INDEX_FILE, io.BytesIO(path.read_bytes()))


def _save(relative: str, content: IO[bytes]) -> None:
    name = storage.object_name(AREA, relative)
    saved = storage.store().save(name, content)
    if saved != name:
        raise OSError(f"the store saved {name!r} as {saved!r}: it must overwrite (file_overwrite=True)")
