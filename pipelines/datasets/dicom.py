"""CT from DICOM: slices grouped into series by SeriesInstanceUID, ordered by position along the
slice normal, converted to Hounsfield units with RescaleSlope / RescaleIntercept, and turned by
ImageOrientationPatient to the RAS axes every CT volume is cached on (``orientation``).

Headers are read first (``stop_before_pixels``) and sizes checked before any pixel is decoded.
Identifying tags (names, IDs, dates, UIDs) are only used inside this module, as salted
pseudonyms for grouping; nothing identifying reaches the cache. Copies of the slices are kept
only when asked (``originals``), de-identified by ``dicom_deid`` first. Each series' geometry is
checked (``series_checks``) and its warnings are listed with the series in the statistics.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from .collected import Collected, class_from_folder, find_labels_csv, strip_common_root
from .csvfile import column, read_csv
from .dicom_deid import PROFILE, Deidentifier
from .dicom_masks import SeriesMasks, is_nifti, series_folder
from .limits import Limits
from .options import DicomOptions, VolumeOptions
from .orientation import STEP as ORIENTATION_STEP
from .orientation import dicom_ornt, reorient, series_orientation
from .report import BadFile, IngestError, ProgressFn, Report
from .series_checks import (
    orientation_name,
    orientation_warnings,
    regular_grid,
    single_slice_warning,
    spacing_warnings,
)
from .volume import Pseudonyms, VolumeCache, resample

SERIES_STEP = "slices ordered by position along the normal; HU = pixel x RescaleSlope + RescaleIntercept"
READ_ERRORS = (InvalidDicomError, OSError, ValueError, TypeError, KeyError, AttributeError, EOFError,
               IndexError, NotImplementedError, RuntimeError, MemoryError)
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"  # Segmentation Storage: a label mask, not a CT slice
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}


@dataclass
class SliceHeader:
    rel: str
    series: str
    patient: str
    study: str
    position: float | None
    instance: int
    shape: tuple[int, int]
    slope: float
    intercept: float
    pixel_spacing: tuple[float, float]
    thickness: float | None
    orientation: tuple[float, ...] | None = None  # ImageOrientationPatient
    corner: tuple[float, ...] | None = None  # ImagePositionPatient
    tilt: float = 0.0  # GantryDetectorTilt, degrees
    kvp: float | None = None  # KVP: the tube voltage
    sop: str = ""  # SOPInstanceUID: what a DICOM-SEG's frames reference


def read_header(path: Path, rel: str, limits: Limits) -> SliceHeader:
    """The header of one slice; BadFile when it is not usable. Pixels are not read."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except READ_ERRORS as exc:
        raise BadFile("not_dicom", f"not a readable DICOM file: {type(exc).__name__}") from exc
    if str(ds.get("SOPClassUID", "")) == SEG_SOP_CLASS:
        raise BadFile("dicom_seg", "a DICOM-SEG object (a label mask), not a CT slice")
    try:
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 16) or 16)
    except READ_ERRORS as exc:
        raise BadFile("bad_header", f"unreadable image size in the header: {type(exc).__name__}") from exc
    if rows <= 0 or cols <= 0:
        raise BadFile("no_image", "the header declares no image (Rows/Columns missing)")
    pixels = rows * cols * frames * samples
    if rows * cols > limits.max_image_pixels or pixels > limits.max_volume_voxels:
        raise BadFile("image_too_large", f"the header declares {frames}x{rows}x{cols} pixels; "
                      f"the limit is {limits.max_image_pixels} per slice")
    if frames != 1 or samples != 1:
        raise BadFile("unsupported", "multi-frame or colour DICOM is not supported for CT")
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if syntax in UNCOMPRESSED and os.path.getsize(path) < pixels * bits // 8:
        raise BadFile("truncated", "the file is shorter than the pixel data its header declares")
    series = str(ds.get("SeriesInstanceUID", "") or "")
    if not series:
        raise BadFile("no_series", "no SeriesInstanceUID")
    try:
        position = _position(ds)
        spacing = tuple(float(v) for v in (ds.get("PixelSpacing") or (1.0, 1.0)))[:2]
        thickness = float(ds.SliceThickness) if ds.get("SliceThickness") not in (None, "") else None
        header = SliceHeader(
            rel=rel, series=series, patient=str(ds.get("PatientID", "") or ""),
            study=str(ds.get("StudyInstanceUID", "") or ""), position=position,
            instance=int(ds.get("InstanceNumber", 0) or 0), shape=(rows, cols),
            slope=float(ds.get("RescaleSlope", 1) or 1), intercept=float(ds.get("RescaleIntercept", 0) or 0),
            pixel_spacing=(spacing[0], spacing[1]) if len(spacing) == 2 else (1.0, 1.0), thickness=thickness,
            orientation=_floats(ds.get("ImageOrientationPatient"), 6), corner=_floats(ds.get("ImagePositionPatient"), 3),
            tilt=float(ds.get("GantryDetectorTilt", 0) or 0),
            kvp=float(ds.KVP) if ds.get("KVP") not in (None, "") else None,
            sop=str(ds.get("SOPInstanceUID", "") or ""),
        )
    except READ_ERRORS as exc:
        raise BadFile("bad_header", f"malformed geometry or rescale tags: {type(exc).__name__}") from exc
    return header


def _floats(value: object, count: int) -> tuple[float, ...] | None:
    if not value or len(value) != count:  # type: ignore[arg-type]
        return None
    return tuple(float(v) for v in value)  # type: ignore[attr-defined]


def _position(ds: pydicom.Dataset) -> float | None:
    position = ds.get("ImagePositionPatient")
    if not position or len(position) != 3:
        return None
    orientation = ds.get("ImageOrientationPatient")
    normal = np.array([0.0, 0.0, 1.0])
    if orientation and len(orientation) == 6:
        values = np.array([float(v) for v in orientation])
        normal = np.cross(values[:3], values[3:])
    return float(np.dot(normal, np.array([float(v) for v in position])))


def read_slice(header: SliceHeader, path: Path) -> np.ndarray:
    """One slice in HU (float32)."""
    return read_slice_dataset(header, path)[0]


def read_slice_dataset(header: SliceHeader, path: Path) -> tuple[np.ndarray, pydicom.Dataset]:
    """One slice in HU (float32), and the whole dataset it was read from."""
    try:
        ds = pydicom.dcmread(path)
        array = ds.pixel_array
    except READ_ERRORS as exc:
        raise BadFile("corrupt_pixels", f"the pixel data cannot be decoded: {type(exc).__name__}: {exc}") from exc
    if array.shape != header.shape:
        raise BadFile("corrupt_pixels", f"pixel data is {array.shape}, the header says {header.shape}")
    return array.astype(np.float32) * header.slope + header.intercept, ds


def order_series(headers: list[SliceHeader], report: Report) -> tuple[list[SliceHeader], float]:
    """Slices of one series sorted along their normal, and the slice spacing in mm."""
    shape = Counter(h.shape for h in headers).most_common(1)[0][0]
    kept = []
    for h in headers:
        if h.shape != shape:
            report.skip(h.rel, "inconsistent_slice", f"{h.shape} pixels; its series has {shape}")
        else:
            kept.append(h)
    _stack_along_common_normal(kept)
    if all(h.position is not None for h in kept):
        kept.sort(key=lambda h: (h.position, h.instance))
        unique: list[SliceHeader] = []
        for h in kept:
            if unique and abs(h.position - unique[-1].position) < 1e-4:  # type: ignore[operator]
                report.skip(h.rel, "duplicate_slice", "another slice of its series has the same position")
                continue
            unique.append(h)
        gaps = np.diff([h.position for h in unique])  # type: ignore[arg-type]
        spacing = float(np.median(gaps)) if len(gaps) else (unique[0].thickness or 1.0)
        return unique, spacing or 1.0
    kept.sort(key=lambda h: h.instance)
    return kept, kept[0].thickness or 1.0


def _stack_along_common_normal(headers: list[SliceHeader]) -> None:
    """Slices of a series in several orientations are placed along the most common one's normal
    (each slice's own normal would put a coronal slice of an axial stack anywhere)."""
    orientations = Counter(h.orientation for h in headers if h.orientation is not None)
    if len(orientations) < 2:
        return
    common = orientations.most_common(1)[0][0]
    normal = np.cross(np.asarray(common[:3]), np.asarray(common[3:]))
    for h in headers:
        if h.corner is not None:
            h.position = float(np.dot(normal, np.asarray(h.corner)))


def ingest_dicom(root: Path, files: list[str], options: DicomOptions, limits: Limits, report: Report,
                 progress: ProgressFn, cache: Path, originals: Path | None = None) -> VolumeCache | Collected:
    """Series of ``files`` under ``root`` into a VolumeCache at ``cache``; with ``originals``,
    de-identified copies of the slices used are written there as ``<label>/<series>/<n>.dcm``.
    When the upload holds label masks (NIfTI beside the series, or DICOM-SEG objects), the series
    and their masks are a finished segmentation ``Collected`` instead (``dicom_masks``)."""
    nifti = [f for f in files if is_nifti(f)]
    json_files = [f for f in files if f.lower().endswith(".json")]
    labels_csv = find_labels_csv(root, files, options.labels_csv)
    candidates = [f for f in files if f != labels_csv and f not in nifti and f not in json_files]
    seg_files: list[str] = []
    unlabelled: dict[str, BadFile] = {}
    series: dict[str, list[SliceHeader]] = defaultdict(list)
    folder_label: dict[str, str] = {}
    parts = dict(zip(candidates, strip_common_root(candidates), strict=True))
    for done, rel in enumerate(candidates, 1):
        progress("scan", done, len(candidates))
        try:
            header = read_header(root / rel, rel, limits)
        except BadFile as exc:
            if exc.code == "dicom_seg":
                seg_files.append(rel)
            else:
                report.skip(rel, exc.code, exc.reason)
            continue
        series[header.series].append(header)
        if labels_csv is None:
            try:
                folder_label[rel] = class_from_folder(parts[rel])
            except BadFile as exc:  # refused below, unless masks label the series
                unlabelled[rel] = exc
    masks = (SeriesMasks.find(root, cache, nifti, seg_files, {uid: series_folder(h) for uid, h in series.items()},
                              options, limits, report, json_files)
             if series and (nifti or seg_files) else None)
    if masks is None:
        for rel in [*nifti, *json_files]:
            report.skip(rel, "unsupported_type", "not a DICOM slice")
        for rel, refused in unlabelled.items():
            report.skip(rel, refused.code, refused.reason)
        series = _without(series, set(unlabelled))
    if not series:
        raise IngestError("no_dicom", "no usable DICOM slice was found (see the skipped files)")
    folders = Counter(series_folder(h) for h in series.values())
    lookup = _labels_lookup(root, labels_csv, limits) if labels_csv and masks is None else None
    pseudonym = Pseudonyms()
    deidentify = Deidentifier() if originals is not None else None
    volumes = VolumeCache(cache, len(series), options)
    kept = 0
    total = sum(len(h) for h in series.values())
    done = 0
    for number, (uid, headers) in enumerate(sorted(series.items(), key=lambda kv: kv[1][0].rel), 1):
        label = "" if masks is not None else _series_label(headers, folder_label, lookup, report)
        if label is None:
            done += len(headers)
            continue
        ordered, z_spacing = order_series(headers, report)
        if len(ordered) * ordered[0].shape[0] * ordered[0].shape[1] > limits.max_volume_voxels:
            for h in ordered:
                report.skip(h.rel, "volume_too_large", f"its series exceeds {limits.max_volume_voxels} voxels")
            done += len(headers)
            continue
        planes, used = [], []
        patient_key = ordered[0].patient or ordered[0].study or uid
        series_name = pseudonym("series", uid)
        for h in ordered:
            done += 1
            progress("decode", done, total)
            try:
                plane, ds = read_slice_dataset(h, root / h.rel)
            except BadFile as exc:
                report.skip(h.rel, exc.code, exc.reason)
                continue
            planes.append(plane)
            used.append(h)
            if deidentify is not None and originals is not None:
                folder = originals / _safe_folder(label) / series_name
                folder.mkdir(parents=True, exist_ok=True)
                deidentify(ds, patient_key).save_as(folder / f"{len(used):04d}.dcm")
                kept += 1
            del ds
        if not planes:
            continue
        stack, spacing, warnings = series_geometry(np.stack(planes), used, z_spacing, options, limits)
        ornt = dicom_ornt(series_orientation([h.orientation for h in used]))
        if masks is not None:
            try:  # a mask is read on the slices as stored, then turned with its series
                labels = masks.labels_for(uid, used, stack.shape, spacing, folders[series_folder(used)] - 1)
            except BadFile as exc:
                report.skip(series_folder(used), exc.code, exc.reason)
                continue
            labels, _ = reorient(labels, spacing, ornt)
        stack, spacing = reorient(stack, spacing, ornt)
        if masks is not None:
            label = masks.add(labels, spacing)
        hu_range = [round(float(stack.min()), 1), round(float(stack.max()), 1)]
        volume = resample(stack, spacing, options)
        group = pseudonym("patient", patient_key)
        name = f"series {number} ({label})"
        meta = {"series": series_name, "slices": len(planes),
                "original_shape": [len(planes), *ordered[0].shape], "spacing_mm": [round(s, 4) for s in spacing],
                "extent_mm": [round(n * s, 2) for n, s in zip(stack.shape, spacing, strict=True)]}
        volumes.add(volume, name, label, group, meta)
        volumes.add_series({"name": name, "series": series_name, "patient": group, "label": label, **meta,
                            "study": pseudonym("study", ordered[0].study or uid),
                            "thickness_mm": used[0].thickness, "orientation": orientation_name([h.orientation for h in used]),
                            "hu_range": hu_range, "kvp": _kvp(used), "warnings": warnings})
    if deidentify is not None:
        volumes.extra_stats["deidentified_copies"] = {"files": kept, "profile": PROFILE}
    if masks is not None:
        return masks.finish(volumes, [SERIES_STEP, ORIENTATION_STEP], report)
    return volumes


def _without(series: dict[str, list[SliceHeader]], dropped: set[str]) -> dict[str, list[SliceHeader]]:
    kept = {uid: [h for h in headers if h.rel not in dropped] for uid, headers in series.items()}
    return defaultdict(list, {uid: headers for uid, headers in kept.items() if headers})


def series_geometry(stack: np.ndarray, used: list[SliceHeader], z_spacing: float, options: VolumeOptions,
                    limits: Limits) -> tuple[np.ndarray, tuple[float, float, float], list[dict[str, object]]]:
    """The series' volume (resampled along the normal when its positions are irregular), its
    spacing, and the warnings about its geometry. ``stack`` is the HU slices of ``used`` in the
    order of ``order_series``; serving's DICOM series zips go through here too."""
    warnings = orientation_warnings([h.orientation for h in used], [h.corner for h in used], [h.tilt for h in used])
    if len(used) == 1:
        depth = options.volume_shape[0] if options.spacing is None else max(
            1, round((used[0].thickness or 1.0) / options.spacing[0]))
        warnings.insert(0, single_slice_warning(depth))
    positions = [h.position for h in used]
    if all(p is not None for p in positions):
        found, irregular = spacing_warnings(positions)  # type: ignore[arg-type]
        warnings += found
        if irregular:
            most = max(4 * options.volume_shape[0], limits.max_volume_voxels // max(stack[0].size, 1) // 4)
            stack, z_spacing = regular_grid(stack, positions, z_spacing, most)  # type: ignore[arg-type]
    else:
        warnings.append({"code": "no_positions", "message": "no ImagePositionPatient on every slice: ordered by "
                         f"InstanceNumber, spacing {z_spacing:g} mm taken from SliceThickness"})
    return stack, (z_spacing, *used[0].pixel_spacing), warnings


def _kvp(used: list[SliceHeader]) -> float | None:
    """The series' tube voltage: the most common KVP of its slices (None when none says)."""
    values = Counter(h.kvp for h in used if h.kvp is not None)
    return values.most_common(1)[0][0] if values else None


def _safe_folder(label: str) -> str:
    """A label as one folder name (labels may come from a CSV: no separators, no dot names)."""
    name = re.sub(r"[^\w.-]+", "_", label).strip("._")[:80]
    return name or "label"


def _labels_lookup(root: Path, labels_csv: str, limits: Limits) -> tuple[str, dict[str, str]]:
    header, rows = read_csv(root / labels_csv, limits, name=labels_csv)
    label = column(header, "label", labels_csv)
    key = column(header, ("patient_id", "patient", "PatientID"), labels_csv, required=False)
    kind = "patient"
    if key is None:
        key, kind = column(header, ("study_uid", "study", "StudyInstanceUID"), labels_csv), "study"
    return kind, {row[key].strip(): row[label].strip() for row in rows if row[label].strip()}  # type: ignore[index]


def _series_label(headers: list[SliceHeader], folder_label: dict[str, str],
                  lookup: tuple[str, dict[str, str]] | None, report: Report) -> str | None:
    if lookup is None:
        return Counter(folder_label[h.rel] for h in headers).most_common(1)[0][0]
    kind, table = lookup
    key = headers[0].patient if kind == "patient" else headers[0].study
    label = table.get(key)
    if label is None:
        folder = str(PurePosixPath(headers[0].rel).parent)
        report.skip(folder, "missing_label", f"a series of {len(headers)} slices has no row in the labels CSV "
                    f"(matched by {kind})")
    return label
