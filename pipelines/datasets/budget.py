"""How many bytes one archive may decompress and write, counted chunk by chunk while extracting.

Nothing here trusts the sizes an archive declares: every check counts bytes that came out of the
decompressor, so an archive stops as soon as it goes over, not after it has filled the disk.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .limits import Limits, MiB
from .report import IngestError, printable

# A small archive may always decompress this much in total: a few highly compressible files (blank
# masks, sparse volumes) are legitimate, and a few MiB are no threat to the disk.
ARCHIVE_RATIO_FLOOR_BYTES = 8 * MiB


class ExtractionBudget:
    """The archive-wide caps of one extraction: ratio to the archive's size on disk, total size,
    the caller's byte budget (``Limits.max_extract_bytes``) and the free space of the destination's
    filesystem (``Limits.min_free_fraction`` of it stays free).

    ``decompressed`` counts every byte the decompressor produced, skipped members included;
    ``written`` counts the bytes on disk now (a skipped member's bytes are given back).
    """

    def __init__(self, archive_bytes: int, dest: Path, limits: Limits, shown: str) -> None:
        self.limits = limits
        self.dest = dest
        self.shown = shown
        self.archive_bytes = archive_bytes
        self.max_decompressed = max(ARCHIVE_RATIO_FLOOR_BYTES, int(archive_bytes * limits.max_ratio))
        self.decompressed = 0
        self.written = 0
        # Fixed at the start as well as re-read on every chunk: the filesystem may account for our
        # own buffered writes late, and this extraction alone must never take more than there was.
        self.disk_room = self._disk_room()
        if self.disk_room <= 0:
            raise self._disk_full()

    def decompress(self, member: str, size: int) -> None:
        """Count ``size`` bytes that came out of the decompressor for ``member``."""
        self.decompressed += size
        if self.decompressed > self.max_decompressed:
            raise IngestError(
                "compression_ratio",
                f"the archive decompresses to more than {self.limits.max_ratio:g} times its "
                f"{self.archive_bytes} bytes (stopped at '{printable(member)}'; a zip bomb?)",
                self.shown,
            )

    def write(self, member: str, size: int) -> None:
        """Reserve ``size`` bytes on disk for ``member``, before they are written."""
        after = self.written + size
        if after > self.limits.max_archive_bytes:
            raise IngestError(
                "archive_too_large",
                f"the archive extracts to more than {self.limits.max_archive_bytes} bytes "
                f"(stopped at '{printable(member)}')",
                self.shown,
            )
        budget = self.limits.max_extract_bytes
        if budget is not None and after > budget:
            raise IngestError(
                "quota_exceeded",
                f"the archive extracts to more than the {max(budget, 0)} bytes left in your storage quota "
                f"(stopped at '{printable(member)}')",
                self.shown,
            )
        if after > self.disk_room or size > self._disk_room():
            raise self._disk_full(member)
        self.written = after

    def give_back(self, size: int) -> None:
        """``size`` written bytes were removed again (a skipped member)."""
        self.written -= size

    def _disk_room(self) -> int:
        usage = shutil.disk_usage(self.dest)
        return usage.free - int(usage.total * self.limits.min_free_fraction)

    def _disk_full(self, member: str = "") -> IngestError:
        where = f" (stopped at '{printable(member)}')" if member else ""
        return IngestError(
            "disk_full",
            f"not enough free disk space to extract the archive: the server keeps "
            f"{self.limits.min_free_fraction:.0%} of its dataset disk free{where}",
            self.shown,
        )
