"""A local read cache of immutable objects, keyed by their SHA-256 (issue 18).

Workers and the serving app read checkpoints, weights and models from a shared object store; this
cache keeps one local copy of each, named by its content hash, in one folder:

- ``fetch(sha256, open_source)`` returns the path of ``<folder>/<sha256>``, downloading it first
  when it is missing. The download streams into a temporary file in the same folder while hashing;
  a copy whose hash differs is deleted and ``DigestMismatch`` raised, so a corrupt object is never
  served. The finished file is renamed into place, so a reader sees the whole object or none.
- One download per object across processes: the downloader holds an exclusive ``flock`` on a lock
  stripe (``.locks/<first two hex digits>``), and a second process waits on it, then finds the file.
- The folder is bounded by ``max_bytes``: after each download the least recently used objects
  (a hit refreshes the file's modification time) are deleted until the total fits. An object a
  process holds (``hold``: a shared ``flock`` on the file) and the object just fetched are never
  deleted; a single object larger than the bound is kept (and everything else evictable goes).
- Folders unpacked from an object (a dataset version's cache, read memory-mapped) live in the
  same bound: ``install(sha256, open_source, unpack)`` downloads the object (checked as above),
  unpacks it as ``<folder>/folders/<sha256>/`` and deletes the object, so the data is on disk
  once. A folder counts its files' bytes, is refreshed on use like an object, and is evicted
  whole (renamed aside, then deleted), never while a process holds it (``hold_folder``: a shared
  ``flock`` on the folder) nor the one just installed.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
PART_PREFIX = ".part-"
LOCKS = ".locks"
FOLDERS = "folders"
EVICTED_PREFIX = ".evicted-"
STALE_PART_S = 3600  # a temporary file this old belongs to a download whose process died

# Opens the object's bytes for reading (e.g. ``lambda: storage.open(name, "rb")``).
Source = Callable[[], AbstractContextManager[IO[bytes]]]
# Unpacks the downloaded object (first argument) as the folder (second), whole or not at all.
Unpack = Callable[[Path, Path], object]


class DigestMismatch(ValueError):
    """The downloaded bytes do not hash to the SHA-256 asked for; nothing was kept."""


@dataclass(frozen=True)
class ContentCache:
    folder: Path
    max_bytes: int

    def path(self, sha256: str) -> Path:
        """Where the object ``sha256`` is (or would be) cached."""
        return self.folder / _checked(sha256)

    def fetch(self, sha256: str, open_source: Source) -> Path:
        """The local path of the object ``sha256``, downloaded from ``open_source()`` once.
        Raises ``DigestMismatch`` when the source's bytes hash otherwise, and whatever the source
        raises (``FileNotFoundError`` for a missing object). Keep the file open, or use ``hold``,
        when another process's eviction must not delete it under you."""
        target = self.path(sha256)
        if _touch(target):
            return target
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._stripe(sha256):
            if not _touch(target):  # another process may have fetched it while this one waited
                self._download(sha256, open_source, target)
        self.evict(keep=(sha256,))
        return target

    @contextmanager
    def hold(self, sha256: str, open_source: Source) -> Iterator[Path]:
        """``fetch``, then keep the file from eviction (a shared lock on it) until the block ends."""
        while True:
            path = self.fetch(sha256, open_source)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # evicted between the fetch and the open: fetch again
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                if os.fstat(fd).st_nlink:  # still the cached file, not one an evictor just unlinked
                    yield path
                    return
            finally:
                os.close(fd)

    def evict(self, keep: Iterable[str] = ()) -> list[str]:
        """Delete least recently used objects until the folder fits ``max_bytes``, never one in
        ``keep`` or one a process holds; returns the digests deleted, oldest first."""
        kept = set(keep)
        entries = self._sized()
        total = sum(size for _, size, _ in entries)
        evicted: list[str] = []
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path.name not in kept and (_remove_unheld(path) if path.is_dir() else _unlink_unheld(path)):
                total -= size
                evicted.append(path.name)
        return evicted

    def total_bytes(self) -> int:
        """The bytes of every cached object and installed folder now."""
        return sum(size for _, size, _ in self._sized())

    def folder_path(self, sha256: str) -> Path:
        """Where the folder unpacked from the object ``sha256`` is (or would be) installed."""
        return self.folder / FOLDERS / _checked(sha256)

    def install(self, sha256: str, open_source: Source, unpack: Unpack) -> Path:
        """The local folder unpacked (``unpack(object, folder)``) from the object ``sha256``,
        downloaded from ``open_source()`` once and checked as ``fetch`` does; the object itself is
        deleted once unpacked. Use ``hold_folder`` while reading it when another process's eviction
        must not delete it under you."""
        target = self.folder_path(sha256)
        if _touch(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._stripe(sha256):
            if not _touch(target):
                _remove_evicted(target.parent)
                packed = self.folder / f"{PART_PREFIX}{sha256}.unpack"
                try:
                    self._download(sha256, open_source, packed)
                    unpack(packed, target)
                finally:
                    packed.unlink(missing_ok=True)
                _touch(target)
        self.evict(keep=(sha256,))
        return target

    def adopt(self, sha256: str, source: Path) -> Path:
        """Move the local folder ``source``, whose packing hashes to ``sha256`` (a folder this
        process just published), into the cache as if installed; dropped when one is there."""
        target = self.folder_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._stripe(sha256):
            if target.is_dir():
                shutil.rmtree(source, ignore_errors=True)
            else:  # moved whole into a scratch folder first (a copy across file systems), then renamed
                scratch = Path(tempfile.mkdtemp(prefix=".adopt-", dir=target.parent))
                try:
                    shutil.move(source, scratch / "folder")
                    os.rename(scratch / "folder", target)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
            _touch(target)
        self.evict(keep=(sha256,))
        return target

    @contextmanager
    def hold_folder(self, sha256: str, open_source: Source, unpack: Unpack) -> Iterator[Path]:
        """``install``, then keep the folder from eviction (a shared lock on it) until the block ends."""
        while True:
            path = self.install(sha256, open_source, unpack)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:  # evicted between the install and the open: install again
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                if _same_file(path, fd):  # still in place, not one an evictor just renamed aside
                    yield path
                    return
            finally:
                os.close(fd)

    def _sized(self) -> list[tuple[int, int, Path]]:
        """(last use, bytes, path) of every cached object and installed folder."""
        entries = []
        for path in [*_entries(self.folder), *_entries(self.folder / FOLDERS)]:
            try:
                stat = path.stat()
                size = _tree_bytes(path) if path.is_dir() else stat.st_size
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime_ns, size, path))
        return entries

    @contextmanager
    def _stripe(self, sha256: str) -> Iterator[None]:
        # 256 lock files at most, however many objects pass through; two objects sharing a stripe
        # only wait for each other's download.
        locks = self.folder / LOCKS
        locks.mkdir(exist_ok=True)
        with open(locks / sha256[:2], "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _download(self, sha256: str, open_source: Source, target: Path) -> None:
        _remove_stale_parts(self.folder)
        fd, scratch = tempfile.mkstemp(prefix=f"{PART_PREFIX}{sha256[:16]}-", dir=self.folder)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, open_source() as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise DigestMismatch(f"the object read hashes to {digest.hexdigest()}, not {sha256}")
            os.replace(scratch, target)
            _touch(target)
        finally:
            Path(scratch).unlink(missing_ok=True)


def _checked(sha256: str) -> str:
    if not SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 in lower-case hex: {sha256!r}")
    return sha256


def _touch(path: Path) -> bool:
    """Mark ``path`` used now (the LRU order); False when it is not there. The clock is the
    process's, in nanoseconds: file timestamps set by the kernel are only as fine as its tick."""
    now = time.time_ns()
    try:
        os.utime(path, ns=(now, now))
    except FileNotFoundError:
        return False
    return True


def _entries(folder: Path) -> list[Path]:
    try:
        return [path for path in folder.iterdir() if SHA256.fullmatch(path.name)]
    except FileNotFoundError:
        return []


_GONE = -1


def _lock_unheld(path: Path, flags: int) -> int | None:
    """A descriptor of ``path`` holding its exclusive lock; ``_GONE`` when there is no ``path``;
    None when another process holds a lock on it (nothing is kept open then)."""
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return _GONE
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlink_unheld(path: Path) -> bool:
    """Delete ``path`` unless a process holds a lock on it; True when it is gone."""
    fd = _lock_unheld(path, os.O_RDONLY)
    if fd is None or fd == _GONE:
        return fd == _GONE
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _same_file(path: Path, fd: int) -> bool:
    try:
        here, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _remove_unheld(folder: Path) -> bool:
    """Delete the installed ``folder`` unless a process holds a lock on it; True when it is gone.
    It is renamed aside under the exclusive lock (a reader finds it whole or not at all), then
    deleted."""
    fd = _lock_unheld(folder, os.O_RDONLY | os.O_DIRECTORY)
    if fd is None or fd == _GONE:
        return fd == _GONE
    aside = folder.parent / f"{EVICTED_PREFIX}{folder.name}-{os.getpid()}-{time.time_ns()}"
    try:
        if not _same_file(folder, fd):
            return True
        os.rename(folder, aside)
    finally:
        os.close(fd)
    shutil.rmtree(aside, ignore_errors=True)
    return True


def _remove_evicted(folders: Path) -> None:
    """Delete what an evictor that died mid-delete left renamed aside (nothing reads it)."""
    for aside in folders.glob(f"{EVICTED_PREFIX}*"):
        shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_parts(folder: Path) -> None:
    cutoff = time.time() - STALE_PART_S
    for part in folder.glob(f"{PART_PREFIX}*"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
        except FileNotFoundError:
            pass
