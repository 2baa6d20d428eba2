"""How an upload would split, before it is ingested: groups (patients for DICOM, read from the
headers inside the zip; one per file for images and NIfTI; one per image or volume that has its
mask when the zip holds ``images/`` and ``masks/``, as a mask file is never a sample) through the
same seeded split the ingest makes, with the warnings of ``splits.split_advice``. Nothing is
extracted to disk."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pydicom

from .collected import strip_common_root
from .dicom import READ_ERRORS
from .limits import Limits
from .masks import pair_files as image_pair_files
from .nifti_masks import has_mask_folder
from .nifti_masks import pair_files as nifti_pair_files
from .options import parse_options
from .report import Report
from .splits import grouped_stratified_split, split_advice, split_sizes

HEADER_BYTES = 256 * 1024  # a CT slice's header is a few KiB; what is not read in this is not counted
MAX_FILES = 20_000  # a preview reads at most this many members; the ingest reads them all
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GROUPED_BY = {"ct_dicom": "patient", "ct_nifti": "volume", "image": "image", "segmentation": "image"}


def preview_split(kind: str, source: Path, options: dict[str, Any] | None, limits: Limits) -> dict[str, Any]:
    """Per split, the samples and groups the ingest of ``source`` with ``options`` would make.
    ``available`` is false for kinds only the ingest can count (tables, text) and non-zips.
    Raises ValueError on bad options (as the ingest would)."""
    if kind not in GROUPED_BY or not zipfile.is_zipfile(source):
        return {"available": False, "reason": "the split is counted during the ingest for this kind of upload"}
    parsed = parse_options(kind, options)
    with zipfile.ZipFile(source) as archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.endswith(".csv")]
        members = members[: min(MAX_FILES, limits.max_entries)]
        labels, groups, unread = (_dicom_groups(archive, members) if kind == "ct_dicom"
                                  else _file_groups(kind, members))
    if not groups:
        return {"available": False, "reason": "no file the ingest would use was found in the zip"}
    codes = grouped_stratified_split(labels, groups, val_fraction=parsed.val_fraction,
                                     test_fraction=parsed.test_fraction, seed=parsed.seed,
                                     stratify=parsed.split_strategy == "stratified")
    sizes = split_sizes(codes, groups)
    if kind == "ct_dicom":  # a sample is a series, not a slice file
        for name, size in sizes.items():
            size["samples"] = len({(groups[i], labels[i]) for i in range(len(groups))
                                   if codes[i] == ("train", "val", "test").index(name)})
    return {"available": True, "grouped_by": GROUPED_BY[kind], "groups": len(set(groups)),
            "splits": sizes, "warnings": split_advice(sizes, GROUPED_BY[kind]),
            "files_read": len(groups), "files_unread": unread}


def _dicom_groups(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> tuple[list[str], list[str], int]:
    labels, groups, unread = [], [], 0
    parts = strip_common_root([m.filename for m in members])
    for member, path in zip(members, parts, strict=True):
        try:
            with archive.open(member) as stream:
                head = stream.read(HEADER_BYTES)
            ds = pydicom.dcmread(io.BytesIO(head), stop_before_pixels=True, force=False)
            key = str(ds.get("PatientID", "") or ds.get("StudyInstanceUID", "") or ds.get("SeriesInstanceUID", ""))
        except (*READ_ERRORS, zipfile.BadZipFile):
            unread += 1
            continue
        if not key:
            unread += 1
            continue
        labels.append(path[0] if len(path) >= 2 else "")
        groups.append(key)
    return labels, groups, unread


def _file_groups(kind: str, members: list[zipfile.ZipInfo]) -> tuple[list[str], list[str], int]:
    names = [m.filename for m in members]
    if kind == "segmentation" or (kind == "ct_nifti" and has_mask_folder(names)):
        return _paired_groups(kind, names)
    wanted = (".nii", ".nii.gz") if kind == "ct_nifti" else IMAGE_SUFFIXES
    names = [n for n in names if n.lower().endswith(wanted)]
    parts = strip_common_root(names)
    return [p[0] if len(p) >= 2 else "" for p in parts], names, len(members) - len(names)


def _paired_groups(kind: str, names: list[str]) -> tuple[list[str], list[str], int]:
    """One group per image (or volume) that has its mask, paired as the ingest pairs them: a mask
    is not a sample, and an image without its mask is skipped. The ingest stratifies by the rarest
    class in each mask, which only decoding the masks tells; the preview splits them as one stratum,
    so its counts per split are the ingest's and which case lands where may differ."""
    if kind == "ct_nifti":
        cases = [pair.case for pair in nifti_pair_files(names, None, Report())]
    else:
        cases = [pair.image for pair in image_pair_files(names, None, Report())]
    return [""] * len(cases), cases, len(names) - 2 * len(cases)
