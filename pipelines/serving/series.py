"""A zip of one DICOM series for ``predict``, read exactly as the ingest reads a series: extracted by
the ingest's own safe extraction (``safety.extract_zip``, under serving's tighter caps) into the
request's temporary folder, slice headers checked before any pixel is decoded, slices ordered along
the normal and turned into HU (``dicom.order_series``, ``read_slice``), and the geometry resampled
as ingest does it (``dicom.series_geometry``). The caller owns the temporary folder and removes it
with everything in it; nothing here logs or answers a tag value (names, IDs, UIDs).

Where the ingest would skip a file of the series (an unreadable or truncated slice, a slice of
another size, two slices at one position), a prediction refuses the zip instead: a volume with a
slice silently missing is not the scan the user sent. Files that are no CT slice at all (a README,
a DICOMDIR, a DICOM-SEG) are left out, as the ingest leaves them out.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pipelines.datasets import dicom
from pipelines.datasets.limits import Limits, MiB
from pipelines.datasets.options import VolumeOptions
from pipelines.datasets.orientation import series_orientation
from pipelines.datasets.report import BadFile, IngestError, Report, printable
from pipelines.datasets.safety import extract_zip

from .protocol import ProtocolError

NOT_A_SLICE = {"not_dicom", "no_image", "dicom_seg"}  # beside a series, the ingest leaves these out
TOO_BIG = {"compression_ratio", "archive_too_large", "too_many_entries", "too_large", "quota_exceeded"}
MAX_FOLDERS_NAMED = 5


def series_limits(base: Limits) -> Limits:
    """``base`` (serving's caps) with the archive caps sized for one series, not a dataset: a few
    thousand files, each one 16-bit slice under the pixel cap, all of them one volume under the
    voxel cap (plus headers); the ingest's compression-ratio cap is kept."""
    return replace(base, max_entries=4096, max_member_bytes=2 * base.max_image_pixels + MiB,
                   max_archive_bytes=2 * base.max_volume_voxels + 64 * MiB)


@dataclass
class Series:
    hu: np.ndarray  # (slices, rows, columns) in HU as stored, on a regular grid along the normal
    spacing: tuple[float, float, float]  # (slice, row, column) in mm
    slices: int  # DICOM slices read
    warnings: list[dict[str, Any]]  # the ingest's geometry warnings (series_checks)
    orientation: tuple[float, ...] | None = None  # the slices' ImageOrientationPatient (``orientation``)


def read_series_zip(archive: Path, shown: str, field: str, options: VolumeOptions, limits: Limits) -> Series:
    """The one DICOM series in the zip at ``archive`` (named ``shown`` by the user), in HU. The zip
    is extracted next to it, into the caller's temporary folder. Raises ``ProtocolError`` naming
    ``field`` and ``shown``: 413 for a zip bomb or an oversize zip, 400 for anything else."""
    caps = series_limits(limits)
    report = Report()
    try:
        files = extract_zip(archive, archive.parent / "series", caps, report, shown=shown)
    except IngestError as exc:
        raise _refused(field, shown, exc.code, exc.reason) from exc
    for skipped in report.skipped:  # the ingest skips a bad member; one series must be whole
        raise _refused(field, shown, skipped.code, f"'{printable(skipped.file, 120)}': {skipped.reason}")
    root = archive.parent / "series"
    headers: list[dicom.SliceHeader] = []
    for rel in files:
        try:
            headers.append(dicom.read_header(root / rel, rel, caps))
        except BadFile as exc:
            if exc.code not in NOT_A_SLICE:
                raise _refused(field, shown, exc.code, f"'{printable(rel, 120)}': {exc.reason}") from exc
    if not headers:
        raise _refused(field, shown, "no_dicom", f"no DICOM CT slice among its {len(files)} file(s)")
    series = Counter(h.series for h in headers)
    if len(series) > 1:
        folders = sorted({_folder(h.rel) for h in headers})
        named = ", ".join(f"'{printable(f, 80)}'" for f in folders[:MAX_FOLDERS_NAMED])
        more = f" and {len(folders) - MAX_FOLDERS_NAMED} more" if len(folders) > MAX_FOLDERS_NAMED else ""
        raise _refused(field, shown, "several_series",
                       f"holds {len(series)} series (different SeriesInstanceUID), in the folder(s) {named}{more}; "
                       "send one series per request")
    order = Report()
    ordered, z_spacing = dicom.order_series(headers, order)
    for skipped in order.skipped:  # a slice of another size, or two at one position
        raise _refused(field, shown, skipped.code, f"'{printable(skipped.file, 120)}': {skipped.reason}")
    rows, cols = ordered[0].shape
    if len(ordered) * rows * cols > caps.max_volume_voxels:
        raise _refused(field, shown, "volume_too_large", f"{len(ordered)} slices of {rows}x{cols}: more than "
                       f"{caps.max_volume_voxels} voxels")
    planes = []
    for header in ordered:
        try:
            planes.append(dicom.read_slice(header, root / header.rel))
        except BadFile as exc:
            raise _refused(field, shown, exc.code, f"'{printable(header.rel, 120)}': {exc.reason}") from exc
    hu, spacing, warnings = dicom.series_geometry(np.stack(planes), ordered, z_spacing, options, caps)
    return Series(hu, spacing, len(planes), warnings, series_orientation([h.orientation for h in ordered]))


def _folder(rel: str) -> str:
    parent = str(PurePosixPath(rel).parent)
    return "(top level)" if parent == "." else parent + "/"


def _refused(field: str, shown: str, code: str, reason: str) -> ProtocolError:
    status = 413 if code in TOO_BIG else 503 if code == "disk_full" else 400
    return ProtocolError(status, field, f"'{printable(shown, 120)}': {reason}", code)
