"""Where each member's bytes lie inside a zip, checked before anything is decompressed.

A zip's central directory may point many entries at the same bytes: several entries sharing one
local header, or (David Fifield's "better zip bomb") each entry's compressed data quoting the next
entry's local header and running on to one shared, highly compressed kernel. Every entry then
decompresses the kernel again, so a 100 KB archive extracts to gigabytes while each entry on its own
looks harmless. A well-formed archive never needs two entries to share a byte, so any overlap, or
data running into the central directory, refuses the whole archive.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .report import IngestError, printable

# zipfile's own layout of a local file header; the two lengths at its end size the variable part.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class Span:
    """The bytes ``[start, end)`` of the archive one entry occupies: local header and compressed data."""

    name: str
    start: int
    end: int


def member_spans(zf: zipfile.ZipFile, fp: IO[bytes]) -> list[Span]:
    """The span of every entry of ``zf`` (read from ``fp``, the same archive), in file order.

    Sizes come from the central directory, which is what ``zipfile`` reads by. An entry whose local
    header is missing is left out: ``zipfile`` refuses to open it, so it reads no shared bytes.
    """
    spans = []
    for info in zf.infolist():
        fp.seek(info.header_offset)
        head = fp.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size or head[:4] != _LOCAL_SIGNATURE:
            continue
        name_length, extra_length = _LOCAL_HEADER.unpack(head)[-2:]
        data_start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        spans.append(Span(info.orig_filename, info.header_offset, data_start + info.compress_size))
    return sorted(spans, key=lambda s: (s.start, s.end))


def check_layout(archive: Path, zf: zipfile.ZipFile, shown: str) -> None:
    """Raise IngestError("overlapping_entries") naming ``shown`` (the archive as the user named it)
    and the members at fault when two entries share bytes or one runs into the central directory."""
    with open(archive, "rb") as fp:
        spans = member_spans(zf, fp)
    widest: Span | None = None  # of the spans seen so far, the one reaching furthest
    for span in spans:
        if widest is not None and span.start < widest.end:
            raise IngestError("overlapping_entries", _overlap_reason(widest, span), shown)
        if widest is None or span.end > widest.end:
            widest = span
    directory = zf.start_dir  # where the central directory begins (after any prepended bytes)
    if widest is not None and widest.end > directory:
        raise IngestError(
            "overlapping_entries",
            f"the member '{printable(widest.name)}' declares {widest.end - widest.start} bytes that run past "
            "its data into the archive's directory: its sizes are forged",
            shown,
        )


def _overlap_reason(first: Span, second: Span) -> str:
    a, b = printable(first.name), printable(second.name)
    if first.start == second.start:
        return (f"the members '{a}' and '{b}' point at the same bytes of the archive "
                "(overlapping entries, a zip bomb)")
    return (f"the member '{a}' overlaps the member '{b}': its compressed data runs into the other's "
            "(overlapping entries, a zip bomb)")
