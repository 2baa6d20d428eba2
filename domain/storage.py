"""Every artifact through one storage interface (issue 18): Django's ``STORAGES["default"]``.

In the embedded default that is the local filesystem, and artifacts stay where they always were:
the folders ``TRAINING_RUNS_DIR``, ``DEPLOY_DIR``, ``MARKET_DIR`` and ``DATASETS_ROOT`` that web and
workers share. With an object store (``VMB_STORAGE_BACKEND=s3``) those folders are each process's
private scratch, and what another process must read is written to the store under the area's
prefix (``runs/``, ``models/``, ...) and read back through the local read cache keyed by content
hash (``pipelines.storage.cache``), so a machine needs only the store. A folder (a model's bundle,
a deployment's serving folder, a dataset version's cache) goes as one tar named by its hash and a
pointer to it (``publish_folder``), and a machine that lacks it installs it (``install_folder``).
"""
from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from pipelines.storage import bundles
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


def save(name: str, content: IO[bytes]) -> None:
    """Write ``content`` to the store as ``name``, replacing what was there (an S3 store replaces
    an object whole, so a reader sees the old bytes or the new)."""
    saved = store().save(name, content)
    if saved != name:
        raise OSError(f"the store saved {name!r} as {saved!r}: it must overwrite (file_overwrite=True)")


def put(area: str, relative: str, local: Path) -> str:
    """Copy the local file ``local`` to the store as ``relative`` under ``area`` (a shared store
    only: in the local default the file is already where every process reads it). Returns the name."""
    name = object_name(area, relative)
    if is_shared_store():
        with open(local, "rb") as source:
            save(name, source)
    return name


def local_file(area: str, relative: str, sha256: str) -> Path:
    """The artifact at ``relative`` under ``area`` as a local file: in its shared folder in the
    local default, else fetched from the store through the cache (checked against ``sha256``)."""
    if not is_shared_store():
        return Path(getattr(settings, AREAS[area])) / relative
    return fetch(object_name(area, relative), sha256)


# ---- folders as bundles (pipelines.storage.bundles) -------------------------------------------------
def local_root(area: str) -> Path:
    """This process's folder of ``area`` (``TRAINING_RUNS_DIR``, ``DEPLOY_DIR``, ...)."""
    return Path(getattr(settings, AREAS[area]))


def read_pointer(area: str, relative: str) -> dict[str, str] | None:
    """The published pointer of the folder ``relative`` under ``area``, or None when it has none."""
    try:
        with store().open(object_name(area, bundles.pointer_name(relative)), "rb") as fh:
            return bundles.read_pointer(fh.read())
    except FileNotFoundError:
        return None


def publish_folder(area: str, folder: Path, *, beside: bool = False, relative: str | None = None) -> str | None:
    """Publish the local ``folder`` as ``relative`` under ``area`` (default: its path under the
    area's folder; another for a folder written elsewhere first) to a shared store: packed into one tar
    named by its SHA-256, then its pointer ``<folder>/bundle.json``, so a reader never finds a
    pointer to a missing object. The tar is ``bundles/<sha256>.tar`` under the area's prefix, shared
    by every folder with the same files, or with ``beside`` ``<folder>/<sha256>.tar``, the folder's
    own, deleted with it (``delete_tree``); then a tar the previous pointer named there is deleted
    once the new pointer is out. Returns the hash (None in the local default, where the folder
    already is where every process reads it)."""
    if not is_shared_store():
        return None
    relative = relative or folder.relative_to(local_root(area)).as_posix()
    with tempfile.TemporaryFile() as packed:
        digest = bundles.pack(folder, packed)
        name = f"{relative}/{digest}.tar" if beside else f"bundles/{digest}.tar"
        previous = read_pointer(area, relative) if beside else None
        packed.seek(0)
        save(object_name(area, name), packed)
    save(object_name(area, bundles.pointer_name(relative)), io.BytesIO(bundles.pointer(name, digest)))
    if previous and previous["name"] != name and previous["name"].startswith(f"{relative}/"):
        store().delete(object_name(area, previous["name"]))  # a re-run's older packing: nothing names it now
    return digest


def install_folder(area: str, relative: str) -> Path:
    """The folder ``relative`` under ``area``'s folder on this machine: with a shared store,
    installed from its published bundle first when it is not here, through the content-hash
    cache, unpacked beside it and renamed into place. Raises ``FileNotFoundError`` when it was
    never published and ``DigestMismatch`` when its bytes are not the ones published."""
    folder = local_root(area) / relative
    if not is_shared_store() or not relative or folder.is_dir():
        return folder
    ref = read_pointer(area, relative)
    if ref is None:
        raise FileNotFoundError(f"{object_name(area, relative)} was never published to the store")
    return bundles.install(fetch(object_name(area, ref["name"]), ref["sha256"]), folder)


@contextmanager
def cached_folder(area: str, relative: str) -> Iterator[Path]:
    """A shared store's folder ``relative`` under ``area`` installed in the content-hash cache
    (``<VMB_CACHE_DIR>/folders/<sha256>``, counted in ``VMB_CACHE_BYTES`` and evicted least recently
    used, the tar deleted once unpacked), held from eviction until the block ends. Raises
    ``FileNotFoundError`` when it was never published and ``DigestMismatch`` when its bytes are not
    the ones published."""
    ref = read_pointer(area, relative)
    if ref is None:
        raise FileNotFoundError(f"{object_name(area, relative)} was never published to the store")
    name = object_name(area, ref["name"])
    with content_cache().hold_folder(ref["sha256"], lambda: store().open(name, "rb"), bundles.install) as folder:
        yield folder


def adopt_folder(sha256: str, folder: Path) -> Path:
    """Move the local ``folder`` just published as ``sha256`` into the content-hash cache, where
    ``cached_folder`` finds it (no download on the machine that made it)."""
    return content_cache().adopt(sha256, folder)


def unpublish_folder(area: str, relative: str) -> list[str]:
    """Withdraw the folder ``relative`` under ``area`` from a shared store: its pointer, and the
    packed object it names unless another folder's pointer in the area still names it (a shared
    ``bundles/<sha256>.tar``). Returns the names deleted (none in the local default). A folder
    published with the same files at the same moment could lose its shared object: withdraw only
    folders nothing publishes again."""
    if not is_shared_store() or not relative.strip("/"):
        return []
    ref = read_pointer(area, relative)
    if ref is None:
        return []
    pointer = object_name(area, bundles.pointer_name(relative))
    store().delete(pointer)
    deleted = [pointer]
    if not any(other["name"] == ref["name"] for other in _pointers(area)):
        store().delete(object_name(area, ref["name"]))
        deleted.append(object_name(area, ref["name"]))
    return deleted


def _pointers(area: str, relative: str = "") -> Iterator[dict[str, str]]:
    """Every folder pointer published under ``area`` (the shared ``bundles/`` folder skipped)."""
    folders, files = store().listdir(object_name(area, relative) if relative else area)
    if relative and bundles.POINTER in files:
        ref = read_pointer(area, relative)
        if ref is not None:
            yield ref
    for sub in folders:
        child = f"{relative}/{sub}" if relative else sub
        if child != "bundles":
            yield from _pointers(area, child)


def delete_tree(area: str, relative: str) -> int:
    """Delete every object of a shared store under ``relative`` in ``area`` (a folder's pointers and
    the packed objects kept beside them); returns how many. Nothing in the local default."""
    if not is_shared_store() or not relative.strip("/"):
        return 0
    return _delete_under(object_name(area, relative.strip("/")))


def _delete_under(prefix: str) -> int:
    folders, files = store().listdir(prefix)
    for name in files:
        store().delete(f"{prefix}/{name}")
    return len(files) + sum(_delete_under(f"{prefix}/{sub}") for sub in folders)
