"""Models, exports and deployments on a shared object store (``domain.storage``), so web, workers
and serving processes on other machines need no shared models volume.

Each folder under ``DEPLOY_DIR`` a process writes (a variant's bundle, an export, a deployment's
serving folder) is published packed into one tar named by its SHA-256 (``models/bundles/<sha>.tar``)
with a pointer ``models/<folder>/bundle.json`` (``domain.storage.publish_folder``; the serving app
reads them through ``pipelines.serving.bundles``); a process that lacks the folder installs it
from the store through the content-hash cache (``local_folder``).
The serving index is copied to ``models/serving-index.json`` for serving processes (``serving/store.py``).
In the local default every function here leaves the shared folder as it is.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

from domain import storage
from pipelines.serving.keyindex import INDEX_FILE

log = logging.getLogger(__name__)
AREA = "models"


def publish_folder(folder: Path) -> str | None:
    """Publish ``folder`` (under ``DEPLOY_DIR``): its packed object ``bundles/<sha256>.tar`` first,
    then its pointer, so a reader never finds a pointer to a missing object. Returns the hash
    (None in the local default)."""
    return storage.publish_folder(AREA, folder)


def local_folder(relative: str) -> Path:
    """The folder ``relative`` under ``DEPLOY_DIR`` on this machine: with a shared store, installed
    from its published bundle first when it is not here (``FileNotFoundError`` when it was never
    published; ``DigestMismatch`` when its bytes are not the ones published)."""
    return storage.install_folder(AREA, relative)


def unpublish_folder(relative: str) -> list[str]:
    """Withdraw the folder ``relative`` under ``DEPLOY_DIR`` from the store: its pointer, and its
    packed object unless another folder's pointer names it too. Returns the names deleted; a
    store that fails is logged, not raised (what called it has already ended the folder's use)."""
    try:
        return storage.unpublish_folder(AREA, relative)
    except Exception:
        log.exception("could not withdraw %s/%s from the store", AREA, relative)
        return []


def publish_index(path: Path) -> None:
    """Copy the serving index just written at ``path`` to the store, where serving processes poll it."""
    if storage.is_shared_store():
        storage.save(storage.object_name(AREA, INDEX_FILE), io.BytesIO(path.read_bytes()))
