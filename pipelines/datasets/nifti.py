"""CT volumes from NIfTI (``.nii``, ``.nii.gz``) with a labels CSV (file,label[,patient]) or
class folders. The header's shape is checked before any voxel is read."""
from __future__ import annotations

import os
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import nibabel
import numpy as np
from nibabel.filebasedimages import ImageFileError

from .collected import Collected, entries_from_class_folders, find_labels_csv
from .csvfile import column, read_csv
from .limits import Limits
from .options import NiftiOptions
from .report import BadFile, IngestError, ProgressFn, Report
from .safety import UnsafeName, clean_member_name
from .volume import Pseudonyms, VolumeCache, resample

READ_ERRORS = (ImageFileError, OSError, EOFError, ValueError, zlib.error, TypeError, MemoryError, RuntimeError)


def is_nifti(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(".nii") or lowered.endswith(".nii.gz")


def read_volume(path: Path, limits: Limits) -> tuple[np.ndarray, tuple[float, float, float]]:
    """(D, H, W) float32 volume and its (z, y, x) spacing; sizes checked on the header first."""
    data, spacing, _ = read_volume_and_affine(path, limits)
    return data, spacing


def read_volume_and_affine(path: Path, limits: Limits) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
    """As ``read_volume``, with the canonical (RAS) affine of the (x, y, z) voxel grid: what a mask
    must share with its image, and what a predicted mask is written with."""
    try:
        image = nibabel.load(path)
        header: Any = image.header  # a NIfTI header (the stubs name only the base class)
        shape = tuple(int(s) for s in header.get_data_shape())
        zooms = tuple(float(z) for z in header.get_zooms()[:3])
    except READ_ERRORS as exc:
        raise BadFile("not_nifti", f"not a readable NIfTI file: {exc}") from exc
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3 or min(shape) <= 0:
        raise BadFile("unsupported", f"a 3D volume is needed; the header declares shape {shape}")
    voxels = shape[0] * shape[1] * shape[2]
    if voxels > limits.max_volume_voxels:
        raise BadFile("volume_too_large", f"the header declares {shape} = {voxels} voxels; "
                      f"the limit is {limits.max_volume_voxels}")
    if not path.name.lower().endswith(".gz"):
        needed = int(header.get_data_offset()) + voxels * header.get_data_dtype().itemsize
        if os.path.getsize(path) < needed:
            raise BadFile("truncated", "the file is shorter than the voxel data its header declares")
    try:
        canonical = nibabel.as_closest_canonical(image)
        data = np.asarray(canonical.dataobj, dtype=np.float32).reshape(shape)
        zooms = tuple(float(z) for z in canonical.header.get_zooms()[:3])
        affine = np.asarray(canonical.affine, dtype=np.float64)
    except READ_ERRORS as exc:
        raise BadFile("corrupt", f"the voxel data cannot be read: {type(exc).__name__}: {exc}") from exc
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    # NIfTI stores (x, y, z); the cache is (depth, height, width).
    return data.transpose(2, 1, 0), (zooms[2] or 1.0, zooms[1] or 1.0, zooms[0] or 1.0), affine


def ingest_nifti(root: Path, files: list[str], options: NiftiOptions, limits: Limits, report: Report,
                 progress: ProgressFn, cache: Path) -> VolumeCache | Collected:
    """Labelled volumes (a ``VolumeCache`` to finish); or, when the archive has a ``masks/`` folder,
    volumes with label masks for segmentation (a finished ``Collected``: see ``nifti_masks``)."""
    from .nifti_masks import has_mask_folder, ingest_nifti_masks  # it reads volumes with this module

    if has_mask_folder(files):
        return ingest_nifti_masks(root, files, options, limits, report, progress, cache)
    labels_csv = find_labels_csv(root, files, options.labels_csv)
    volumes_found = [f for f in files if is_nifti(f)]
    for other in sorted(set(files) - set(volumes_found) - {labels_csv}):
        report.skip(other, "unsupported_type", "not a NIfTI volume (.nii or .nii.gz)")
    entries = _entries(root, labels_csv, volumes_found, limits, report)
    if not entries:
        raise IngestError("no_volumes", "no labelled NIfTI volume was found (see the skipped files)")
    pseudonym = Pseudonyms()
    volumes = VolumeCache(cache, len(entries), options)
    for done, (rel, label, group) in enumerate(entries, 1):
        progress("decode", done, len(entries))
        try:
            data, spacing = read_volume(root / rel, limits)
        except BadFile as exc:
            report.skip(rel, exc.code, exc.reason)
            continue
        meta = {"original_shape": list(data.shape), "spacing_mm": [round(s, 4) for s in spacing]}
        volumes.add(resample(data, spacing, options), f"volume {done} ({label})", label,
                    pseudonym("patient", group), meta)
    return volumes


def _entries(root: Path, labels_csv: str | None, found: list[str], limits: Limits,
             report: Report) -> list[tuple[str, str, str]]:
    if labels_csv is None:
        return entries_from_class_folders(found, report)
    header, rows = read_csv(root / labels_csv, limits, name=labels_csv)
    file_col = column(header, ("file", "filename", "path", "volume"), labels_csv)
    label_col = column(header, "label", labels_csv)
    group_col = column(header, ("patient_id", "patient", "group"), labels_csv, required=False)
    by_name = {PurePosixPath(f).name: f for f in found}
    base = PurePosixPath(labels_csv).parent
    entries = []
    for row in rows:
        raw, label = row[file_col], row[label_col].strip()  # type: ignore[index]
        try:
            name = clean_member_name(raw)
        except UnsafeName as exc:
            report.skip(raw, "unsafe_name", f"in {labels_csv}: {exc}")
            continue
        rel = str(base / name) if str(base) != "." else name
        rel = rel if rel in found else by_name.get(name, "")
        if not rel or not label:
            report.skip(raw, "missing_file" if not rel else "missing_label",
                        f"listed in {labels_csv} but {'not in the archive' if not rel else 'without a label'}")
            continue
        group = row[group_col].strip() if group_col is not None and row[group_col].strip() else rel  # type: ignore[index]
        entries.append((rel, label, group))
    return entries
