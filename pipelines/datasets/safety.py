"""Safe archive extraction: no path tricks, no links, no bombs.

Sizes are counted while decompressing, never taken from the archive's own headers, so a member
that lies about its size is caught as soon as it produces more bytes than the caps allow.
"""
from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from .limits import Limits, MiB
from .report import IngestError, ProgressFn, Report, no_progress

CHUNK = 1 * MiB
# The ratio cap only matters for members big enough to hurt.
RATIO_FLOOR_BYTES = 4 * MiB
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
    archive: Path, dest: Path, limits: Limits, report: Report, progress: ProgressFn = no_progress
) -> list[str]:
    """Extract ``archive`` into ``dest``; returns the relative paths written.

    Bad members (unsafe names, links, encrypted, corrupt, too big, too compressed) are skipped and
    reported by name. Caps on the whole archive (entry count, total size) fail the dataset.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError("bad_archive", f"not a readable zip archive: {exc}", archive.name) from exc
    written: list[str] = []
    total = 0
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_entries:
            raise IngestError(
                "too_many_entries",
                f"the archive has {len(infos)} files; the limit is {limits.max_entries}",
                archive.name,
            )
        for done, info in enumerate(infos, 1):
            progress("extract", done, len(infos))
            raw = info.orig_filename
            try:
                rel = clean_member_name(raw)
            except UnsafeName as exc:
                report.skip(raw, "unsafe_name", str(exc))
                continue
            if is_junk(rel):
                continue
            if is_link(info):
                report.skip(raw, "link", "links are not allowed in archives")
                continue
            if info.flag_bits & 0x1:
                report.skip(raw, "encrypted", "encrypted archive members are not supported")
                continue
            target = root / rel
            if not target.resolve().is_relative_to(root):
                report.skip(raw, "unsafe_name", "the file name points outside the dataset folder")
                continue
            if target.exists():
                report.skip(raw, "duplicate", "a file with this name was already extracted")
                continue
            total = _extract_member(zf, info, target, total, limits, report)
            if target.exists():
                written.append(rel)
    return written


def _extract_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, limits: Limits, report: Report
) -> int:
    """Stream one member to ``target`` counting bytes; returns the new archive total."""
    raw = info.orig_filename
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    ratio_cap = max(RATIO_FLOOR_BYTES, int(max(info.compress_size, 1) * limits.max_ratio))
    problem: tuple[str, str] | None = None
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            for chunk in _chunks(src):
                size += len(chunk)
                total += len(chunk)
                if total > limits.max_archive_bytes:
                    out.close()
                    target.unlink(missing_ok=True)
                    raise IngestError(
                        "archive_too_large",
                        f"the archive extracts to more than {limits.max_archive_bytes} bytes",
                        raw,
                    )
                if size > limits.max_member_bytes:
                    problem = ("too_large", f"extracts to more than {limits.max_member_bytes} bytes")
                    break
                if size > ratio_cap:
                    problem = (
                        "compression_ratio",
                        f"compression ratio above {limits.max_ratio:g}:1 (a zip bomb?)",
                    )
                    break
                out.write(chunk)
    except IngestError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        problem = ("corrupt", f"cannot be extracted: {exc}")
    if problem is not None:
        target.unlink(missing_ok=True)
        report.skip(raw, *problem)
    return total


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk
