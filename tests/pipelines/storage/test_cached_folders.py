"""Folders installed in the content-hash cache (pipelines/storage/cache.py ``install``,
``hold_folder``, ``adopt``): unpacked from a packed bundle as ``folders/<sha256>``, the tar deleted,
counted in the bound with the cached objects, evicted whole and least recently used first, never
the one held (a shared ``flock``; flock locks belong to each open file, so a hold in this process
blocks an eviction from it as from another) nor the one just installed."""
from __future__ import annotations

from pathlib import Path

from pipelines.storage import bundles
from pipelines.storage.cache import ContentCache


def _bundle(tmp_path: Path, name: str, size: int) -> tuple[Path, str]:
    """A packed folder holding one file of ``size`` bytes, and the tar's SHA-256."""
    folder = tmp_path / "made" / name
    folder.mkdir(parents=True)
    (folder / "inputs.npy").write_bytes((name.encode() * size)[:size])
    packed = tmp_path / "store" / f"{name}.tar"
    packed.parent.mkdir(exist_ok=True)
    with open(packed, "w+b") as out:
        return packed, bundles.pack(folder, out)


def _install(cache: ContentCache, packed: Path, digest: str) -> Path:
    return cache.install(digest, lambda: open(packed, "rb"), bundles.install)


def test_a_folder_is_installed_once_named_by_its_hash_and_the_tar_is_not_kept(tmp_path: Path) -> None:
    packed, digest = _bundle(tmp_path, "a", 4000)
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)
    folder = _install(cache, packed, digest)
    assert folder == tmp_path / "cache" / "folders" / digest
    assert (folder / "inputs.npy").read_bytes() == (tmp_path / "made" / "a" / "inputs.npy").read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == ["folders"]
    assert cache.total_bytes() == 4000  # the unpacked files only: the data is on disk once
    packed.unlink()  # installed: a second use reads no source
    assert _install(cache, packed, digest) == folder


def test_folders_past_the_bound_evict_the_least_recently_used_never_the_held_or_the_new(tmp_path: Path) -> None:
    bundles_ = {name: _bundle(tmp_path, name, 4000) for name in ("old", "held", "used", "new")}
    cache = ContentCache(tmp_path / "cache", max_bytes=12000)  # room for three folders
    installed = {}
    for name in ("held", "old", "used"):
        installed[name] = _install(cache, *bundles_[name])
    with cache.hold_folder(bundles_["held"][1], lambda: open(bundles_["held"][0], "rb"), bundles.install) as held:
        _install(cache, *bundles_["old"])  # hits: "held" is now the least recently used, "used" the most
        _install(cache, *bundles_["used"])
        installed["new"] = _install(cache, *bundles_["new"])
        assert not installed["old"].exists()  # the least recently used one not held went, whole
        assert held.is_dir() and installed["used"].is_dir() and installed["new"].is_dir()
        assert cache.total_bytes() == 12000
        assert cache.evict() == []  # within the bound again
    assert ContentCache(tmp_path / "cache", max_bytes=8000).evict() == [installed["held"].name]  # released
    assert not [p for p in (tmp_path / "cache" / "folders").iterdir() if p.name.startswith(".")]  # no scratch left


def test_a_folder_evicted_is_installed_again_from_the_source(tmp_path: Path) -> None:
    (packed, digest), (other, other_digest) = _bundle(tmp_path, "a", 4000), _bundle(tmp_path, "b", 4000)
    cache = ContentCache(tmp_path / "cache", max_bytes=5000)
    folder = _install(cache, packed, digest)
    _install(cache, other, other_digest)
    assert not folder.exists()
    assert _install(cache, packed, digest) == folder
    assert (folder / "inputs.npy").read_bytes() == b"a" * 4000


def test_a_published_folder_is_adopted_without_a_download(tmp_path: Path) -> None:
    packed, digest = _bundle(tmp_path, "a", 4000)
    cache = ContentCache(tmp_path / "cache", max_bytes=10**9)
    folder = cache.adopt(digest, tmp_path / "made" / "a")
    assert not (tmp_path / "made" / "a").exists() and (folder / "inputs.npy").read_bytes() == b"a" * 4000
    assert cache.install(digest, lambda: open(tmp_path / "missing", "rb"), bundles.install) == folder
