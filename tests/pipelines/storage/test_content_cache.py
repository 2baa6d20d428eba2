"""The local read cache keyed by content hash (pipelines/storage/cache.py), on real files and
real processes: one download per object, hashes checked, LRU eviction that spares held objects."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.storage.cache import ContentCache, DigestMismatch

ROOT = Path(__file__).resolve().parents[3]


def _object(folder: Path, name: str, size: int) -> tuple[Path, str]:
    """A source file of ``size`` bytes in ``folder``, and its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(hashlib.sha256(name.encode()).digest() * (size // 32) + b"x" * (size % 32))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


class CountingSource:
    """Opens a file and counts how often it was opened (a download)."""

    def __init__(self, path: Path) -> None:
        self.path, self.opens = path, 0

    def __call__(self):  # type: ignore[no-untyped-def]
        self.opens += 1
        return open(self.path, "rb")


def test_fetch_downloads_once_and_serves_the_exact_bytes(tmp_path: Path) -> None:
    source_file, digest = _object(tmp_path / "store", "a", 3 * 1024 * 1024 + 7)  # several chunks
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)
    source = CountingSource(source_file)
    first = cache.fetch(digest, source)
    again = cache.fetch(digest, source)
    assert first == again == tmp_path / "cache" / digest
    assert first.read_bytes() == source_file.read_bytes()
    assert source.opens == 1
    assert not list((tmp_path / "cache").glob(".part-*"))  # no temporary file left behind


def test_a_corrupt_download_is_discarded_never_served(tmp_path: Path) -> None:
    source_file, digest = _object(tmp_path / "store", "a", 4096)
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)
    corrupt = tmp_path / "store" / "corrupt"
    corrupt.write_bytes(source_file.read_bytes()[:-1] + b"!")
    with pytest.raises(DigestMismatch, match=digest):
        cache.fetch(digest, CountingSource(corrupt))
    assert not cache.path(digest).exists()
    assert not list((tmp_path / "cache").glob(".part-*"))
    assert cache.fetch(digest, CountingSource(source_file)).read_bytes() == source_file.read_bytes()


def test_a_source_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    _, digest = _object(tmp_path / "store", "a", 4096)
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)

    def missing():  # type: ignore[no-untyped-def]
        return open(tmp_path / "store" / "gone", "rb")

    with pytest.raises(FileNotFoundError):
        cache.fetch(digest, missing)
    assert not cache.path(digest).exists() and not list((tmp_path / "cache").glob(".part-*"))


def test_a_name_that_is_not_a_sha256_is_refused(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)
    with pytest.raises(ValueError, match="SHA-256"):
        cache.path("../../etc/passwd")


def test_two_processes_fetching_one_object_download_it_once(tmp_path: Path) -> None:
    source_file, digest = _object(tmp_path / "store", "big", 2 * 1024 * 1024)
    opens = tmp_path / "opens"
    opens.mkdir()
    # Each process's source sleeps per read, so both are inside fetch at once; each open leaves a file.
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from pipelines.storage.cache import ContentCache

        class Slow:
            def __init__(self, fh): self.fh = fh
            def read(self, n): time.sleep(0.05); return self.fh.read(256 * 1024)
            def __enter__(self): return self
            def __exit__(self, *exc): self.fh.close()

        def source():
            Path({str(opens)!r}, str(os.getpid())).touch()
            return Slow(open({str(source_file)!r}, "rb"))

        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        path = ContentCache(Path({str(tmp_path / "cache")!r}), 10**9).fetch({digest!r}, source)
        print(path)
    """)
    import time

    start = str(time.time() + 1.5)  # both start together, after their imports
    procs = [subprocess.Popen([sys.executable, "-c", script, start], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs == [str(tmp_path / "cache" / digest)] * 2
    assert len(list(opens.iterdir())) == 1  # one download; the other process waited and found it
    assert Path(outputs[0]).read_bytes() == source_file.read_bytes()


def test_eviction_drops_the_least_recently_used_first(tmp_path: Path) -> None:
    store = tmp_path / "store"
    objects = {name: _object(store, name, 1000) for name in "abcd"}
    cache = ContentCache(tmp_path / "cache", max_bytes=3000)
    for name in "abc":
        cache.fetch(objects[name][1], CountingSource(objects[name][0]))
    cache.fetch(objects["a"][1], CountingSource(objects["a"][0]))  # a hit: "a" is now the most recent
    cache.fetch(objects["d"][1], CountingSource(objects["d"][0]))  # 4000 bytes > 3000: one must go
    cached = {path.name for path in (tmp_path / "cache").iterdir() if not path.name.startswith(".")}
    assert cached == {objects[name][1] for name in "acd"}  # "b" was the least recently used
    assert cache.total_bytes() == 3000


def test_the_object_just_fetched_stays_even_when_larger_than_the_bound(tmp_path: Path) -> None:
    small, small_digest = _object(tmp_path / "store", "small", 100)
    big, big_digest = _object(tmp_path / "store", "big", 5000)
    cache = ContentCache(tmp_path / "cache", max_bytes=1000)
    cache.fetch(small_digest, CountingSource(small))
    path = cache.fetch(big_digest, CountingSource(big))
    assert path.read_bytes() == big.read_bytes()
    assert not cache.path(small_digest).exists()  # everything else evictable went


def test_an_object_another_process_holds_is_not_evicted(tmp_path: Path) -> None:
    store = tmp_path / "store"
    held, held_digest = _object(store, "held", 1000)
    other, other_digest = _object(store, "other", 1000)
    newest, newest_digest = _object(store, "newest", 1000)
    cache = ContentCache(tmp_path / "cache", max_bytes=2000)
    cache.fetch(held_digest, CountingSource(held))
    cache.fetch(other_digest, CountingSource(other))
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from pipelines.storage.cache import ContentCache

        cache = ContentCache(Path({str(tmp_path / "cache")!r}), 2000)
        with cache.hold({held_digest!r}, lambda: open({str(held)!r}, "rb")):
            print("held", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        cache.fetch(newest_digest, CountingSource(newest))  # over the bound: the oldest is held, so "other" goes
        assert cache.path(held_digest).exists()
        assert not cache.path(other_digest).exists()
    finally:
        proc.communicate("\n", timeout=30)
    assert proc.returncode == 0
    assert cache.evict() == []  # 2000 bytes: within the bound again
