"""Every artifact through one storage interface (issue 18): Django's ``STORAGES["default"]``.

In the embedded default that is the local filesystem, and artifacts stay where they always were:
the folders ``TRAINING_RUNS_DIR``, ``DEPLOY_DIR``, ``MARKET_DIR`` and ``DATASETS_ROOT`` that web and
workers share. With an object store (``VMB_STORAGE_BACKEND=s3``) those folders are each process's
private scratch, and what another process must read is written to the store under the area's
prefix (``runs/``, ``models/``, ...) and read back through the local read cache keyed by content
hash (``pipelines.storage.cache``), so a machine needs only the store.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from pipelines.storage.cache import ContentCache

# Where each kind of artifact lives: its local folder setting, and its prefix in an object store.
AREAS = {"runs": "TRAINING_RUNS_DIR", "models": "DEPLOY_DIR", "market": "MARKET_DIR", "datasets": "DATASETS_ROOT"}


def store() -> Storage:
    """The storage every artifact goes through (``STORAGES["default"]``)."""
    return default_storage


def is_shared_store() -> bool:
    """True when artifacts go to an object store rather than the shared local folders."""
    return not isinstance(store(), FileSystemStorage)


def object_name(area: str, relative: str) -> str:
    """The store's name of the artifact at ``relative`` (a POSIX path) under ``area``'s folder."""
    if area not in AREAS:
        raise ValueError(f"unknown artifact area {area!r}")
    return f"{area}/{relative}"


def content_cache() -> ContentCache:
    return _cache(str(settings.CACHE_DIR), int(settings.CACHE_BYTES))


@cache
def _cache(folder: str, max_bytes: int) -> ContentCache:
    return ContentCache(Path(folder), max_bytes)


def fetch(name: str, sha256: str) -> Path:
    """A local copy of the store's object ``name`` whose content hashes to ``sha256``: read once
    into the cache (``VMB_CACHE_DIR``), checked against the hash, kept while the cache's bound allows.
    Raises ``FileNotFoundError`` when the store has no such object and ``DigestMismatch`` when its
    bytes differ."""
    return content_cache().fetch(sha256, lambda: store().open(name, "rb"))


def put(area: str, relative: str, local: Path) -> str:
    """Copy the local file ``local`` to the store as ``relative`` under ``area`` (a shared store
    only: in the local default the file is already where every process reads it). Returns the name."""
    name = object_name(area, relative)
    if is_shared_store():
        with open(local, "rb") as source:
            saved = store().save(name, source)
        if saved != name:
            raise OSError(f"the store saved {name!r} as {saved!r}: it must overwrite (file_overwrite=True)")
    return name


def local_file(area: str, relative: str, sha256: str) -> Path:
    """The artifact at ``relative`` under ``area`` as a local file: in its shared folder in the
    local default, else fetched from the store through the cache (checked against ``sha256``)."""
    if not is_shared_store():
        return Path(getattr(settings, AREAS[area])) / relative
    return fetch(object_name(area, relative), sha256)
