"""Caps that keep hostile input from exhausting memory, disk or time. Checked before reading."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    max_archive_bytes: int = 20 * GiB  # total extracted, counted while extracting
    max_member_bytes: int = 4 * GiB  # one extracted file
    max_entries: int = 500_000  # files in one archive
    max_ratio: float = 200.0  # decompressed / archive size, all members together (and each big member)
    # The caller's byte budget for one extraction (the owner's remaining storage quota); None: none.
    max_extract_bytes: int | None = None
    min_free_fraction: float = 0.10  # share of the dataset filesystem that extraction leaves free
    max_image_pixels: int = 64_000_000  # width x height of one image or DICOM frame
    max_volume_voxels: int = 256_000_000  # one CT / NIfTI volume
    max_csv_field: int = 4 * MiB  # one CSV cell (long documents)
    max_csv_columns: int = 5_000
    max_table_cells: int = 50_000_000
    max_samples: int = 2_000_000

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> Limits:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
