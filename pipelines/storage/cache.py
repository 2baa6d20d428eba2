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
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
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
STALE_PART_S = 3600  # a temporary file this old belongs to a download whose process died

# Opens the object's bytes for reading (e.g. ``lambda: storage.open(name, "rb")``).
Source = Callable[[], AbstractContextManager[IO[bytes]]]


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
        entries = []
        for path in _entries(self.folder):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        evicted: list[str] = []
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path.name not in kept and _unlink_unheld(path):
                total -= size
                evicted.append(path.name)
        return evicted

    def total_bytes(self) -> int:
        """The bytes of every cached object now."""
        return sum(path.stat().st_size for path in _entries(self.folder))

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


def _unlink_unheld(path: Path) -> bool:
    """Delete ``path`` unless a process holds a lock on it; True when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def _remove_stale_parts(folder: Path) -> None:
    cutoff = time.time() - STALE_PART_S
    for part in folder.glob(f"{PART_PREFIX}*"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
        except FileNotFoundError:
            pass
