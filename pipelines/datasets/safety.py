"""Safe archive extraction: no path tricks, no links, no bombs.

Sizes are counted while decompressing, never taken from the archive's own headers, so a member
that lies about its size is caught as soon as it produces more bytes than the caps allow; entries
that share bytes (overlapping zip bombs) are refused before anything is decompressed.
"""
from __future__ import annotations

import errno
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from .budget import ExtractionBudget
from .limits import Limits, MiB
from .report import IngestError, ProgressFn, Report, no_progress
from .zip_layout import check_layout

CHUNK = 1 * MiB
# One member over the ratio is skipped only when it is big enough to hurt on its own; many small
# ones together are caught by the archive-wide ratio in ExtractionBudget.
MEMBER_RATIO_FLOOR_BYTES = 4 * MiB
_DRIVE = re.compile(r"^[A-Za-z]:")
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")


class UnsafeName(ValueError):
    pass


def clean_member_name(raw: str) -> str:
    """A safe relative POSIX path for an archive member, or UnsafeName saying what is wrong."""
    if "\x00" in raw:
        raise UnsafeName("the file name contains a NUL byte")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise UnsafeName("the file name contains control characters")
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeName("the file name is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeName("the file name goes up a folder ('..')")
    if not parts:
        raise UnsafeName("the file name is empty")
    if any(len(p.encode()) > 255 for p in parts) or len(parts) > 32:
        raise UnsafeName("the file name is too long or too deeply nested")
    return "/".join(parts)


def is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    # No type bits (many zip writers) means a plain file; anything but file or folder is refused.
    return kind != 0 and kind not in (stat.S_IFREG, stat.S_IFDIR)


def is_junk(name: str) -> bool:
    return name.startswith("__MACOSX/") or PurePosixPath(name).name in _JUNK or PurePosixPath(name).name.startswith("._")


def extract_zip(
    archive: Path, dest: Path, limits: Limits, report: Report, progress: ProgressFn = no_progress,
    *, shown: str = "",
) -> list[str]:
    """Extract ``archive`` into ``dest``; returns the relative paths written.

    Bad members (unsafe names, links, encrypted, corrupt, too big, too compressed) are skipped and
    reported by name. Archive-wide problems raise IngestError naming ``shown`` (the archive as the
    user named it; its file name by default) and leave nothing of the extraction behind: overlapping
    entries (refused before decompressing), too many entries, and while writing, the total size,
    the compression ratio of all members together, ``limits.max_extract_bytes`` and the free disk.
    """
    shown = shown or archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError("bad_archive", f"not a readable zip archive: {exc}", shown) from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_entries:
            raise IngestError("too_many_entries",
                              f"the archive has {len(infos)} files; the limit is {limits.max_entries}", shown)
        check_layout(archive, zf, shown)
        output = _Output(dest)
        try:
            budget = ExtractionBudget(archive.stat().st_size, output.root, limits, shown)
            for done, info in enumerate(infos, 1):
                progress("extract", done, len(infos))
                target = _target(output.root, info, report)
                if target is not None:
                    output.make_parent(target)
                    _extract_member(zf, info, target, limits, budget, report)
                    if target.exists():
                        output.written.append(target)
        except BaseException:
            output.remove()
            raise
    return [t.relative_to(output.root).as_posix() for t in output.written]


def _target(root: Path, info: zipfile.ZipInfo, report: Report) -> Path | None:
    """Where a member goes, or None (reported, unless it is junk) when it must be skipped."""
    raw = info.orig_filename
    try:
        rel = clean_member_name(raw)
    except UnsafeName as exc:
        report.skip(raw, "unsafe_name", str(exc))
        return None
    if is_junk(rel):
        return None
    if is_link(info):
        report.skip(raw, "link", "links are not allowed in archives")
        return None
    if info.flag_bits & 0x1:
        report.skip(raw, "encrypted", "encrypted archive members are not supported")
        return None
    target = root / rel
    if not target.resolve().is_relative_to(root):
        report.skip(raw, "unsafe_name", "the file name points outside the dataset folder")
        return None
    if target.exists():
        report.skip(raw, "duplicate", "a file with this name was already extracted")
        return None
    return target


class _Output:
    """What one extraction created under ``root``, so a failed extraction can remove all of it."""

    def __init__(self, dest: Path) -> None:
        self.folders: list[Path] = []  # the topmost folders this extraction created
        if not dest.exists():
            dest.mkdir(parents=True)
            self.folders.append(dest)
        self.root = dest.resolve()
        self.written: list[Path] = []
        self.current: Path | None = None

    def make_parent(self, target: Path) -> None:
        self.current = target
        missing = [p for p in target.parents if p.is_relative_to(self.root) and not p.exists()]
        if missing:
            self.folders.append(missing[-1])
            target.parent.mkdir(parents=True)

    def remove(self) -> None:
        for path in [*self.written, *([self.current] if self.current else [])]:
            path.unlink(missing_ok=True)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: Limits, budget: ExtractionBudget,
    report: Report,
) -> None:
    """Stream one member to ``target``, counting its bytes against the member caps (which skip it)
    and the archive's ``budget`` (which fails the archive)."""
    raw = info.orig_filename
    size = kept = 0
    ratio_cap = max(MEMBER_RATIO_FLOOR_BYTES, int(max(info.compress_size, 1) * limits.max_ratio))
    problem: tuple[str, str] | None = None
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            for chunk in _chunks(src):
                size += len(chunk)
                budget.decompress(raw, len(chunk))
                if size > limits.max_member_bytes:
                    problem = ("too_large", f"extracts to more than {limits.max_member_bytes} bytes")
                    break
                if size > ratio_cap:
                    problem = (
                        "compression_ratio",
                        f"compression ratio above {limits.max_ratio:g}:1 (a zip bomb?)",
                    )
                    break
                budget.write(raw, len(chunk))
                out.write(chunk)
                kept += len(chunk)
    except IngestError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise IngestError("disk_full", f"the disk filled up while extracting: {exc}",
                              budget.shown) from exc
        problem = ("corrupt", f"cannot be extracted: {exc}")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        problem = ("corrupt", f"cannot be extracted: {exc}")
    if problem is not None:
        target.unlink(missing_ok=True)
        budget.give_back(kept)
        report.skip(raw, *problem)


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
