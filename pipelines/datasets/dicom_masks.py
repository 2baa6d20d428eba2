"""CT series with label masks for segmentation: a ``ct_dicom`` zip in which each series has its
mask, either as a NIfTI file in the series' folder or as a DICOM-SEG object anywhere::

    case01/slice00.dcm ...   one CT series
    case01/mask.nii.gz       its label mask: integer class ids on the series' voxel grid
    case02/slice00.dcm ...
    case02/seg.dcm           or a DICOM-SEG that references the series (highdicom reads it)
    classes.json             optional, NIfTI masks only: {"background": 0, "lesion": 1}

A NIfTI mask must lie on its series' grid: after both are turned to the same axes, the same shape
and the same affine (within a tenth of a voxel) as the series' geometry (ImagePositionPatient,
ImageOrientationPatient, PixelSpacing and the slice spacing, in RAS as NIfTI stores it). A
DICOM-SEG is mapped to the series' slices through the source instances its frames reference
(``highdicom.seg.Segmentation.get_pixels_by_source_instance``); one that references a series the
upload does not hold is refused naming the file. Its segment labels are the classes, background
first. A series without a usable mask is skipped, named by its folder.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import highdicom
import nibabel
import numpy as np
import pydicom
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

from .cache import CacheWriter
from .classmap import ClassMap, read_class_map, values_map
from .collected import Collected
from .limits import Limits
from .masks import palette_of
from .nifti import READ_ERRORS as NIFTI_ERRORS
from .nifti_masks import AFFINE_TOLERANCE, resample_labels
from .options import DicomOptions
from .report import BadFile, IngestError, Report

if TYPE_CHECKING:
    from .dicom import SliceHeader
    from .volume import VolumeCache

SEG_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError, NotImplementedError,
              AssertionError, OSError, EOFError)


def is_nifti(name: str) -> bool:
    return name.lower().endswith((".nii", ".nii.gz"))


def series_folder(headers: list[SliceHeader]) -> str:
    """The folder most of a series' slices are in (how a person names the series)."""
    return Counter(str(PurePosixPath(h.rel).parent) for h in headers).most_common(1)[0][0]


@dataclass
class SegObject:
    rel: str
    series: str  # the SeriesInstanceUID it references
    dataset: Any  # highdicom.seg.Segmentation
    used: bool = False


@dataclass
class SeriesMasks:
    """The masks of an upload and the masks cache they are written to, one per series, in order
    with the volumes."""

    root: Path
    nifti: dict[str, list[str]]  # folder -> NIfTI files in it
    segs: dict[str, SegObject]  # referenced SeriesInstanceUID -> its DICOM-SEG
    classes: ClassMap
    limits: Limits
    options: DicomOptions
    cache: Path
    capacity: int  # series that may get a mask
    writer: CacheWriter | None = None
    present: list[tuple[int, ...]] = field(default_factory=list)
    strata: list[str] = field(default_factory=list)

    @classmethod
    def find(cls, root: Path, cache: Path, nifti: list[str], seg_files: list[str], series_folders: dict[str, str],
             options: DicomOptions, limits: Limits, report: Report, json_files: list[str]) -> SeriesMasks:
        """Read the DICOM-SEG objects (refusing, by name, one that references a series not in the
        upload) and index the NIfTI masks by folder; ``series_folders`` maps each uploaded
        SeriesInstanceUID to its folder. IngestError when both kinds are mixed."""
        series_uids = set(series_folders)
        if nifti and seg_files:
            raise IngestError("mixed_mask_kinds", "the upload holds both NIfTI masks and DICOM-SEG objects; "
                              "give every series its mask in one form", seg_files[0])
        segs: dict[str, SegObject] = {}
        for rel in seg_files:
            try:
                seg = _read_seg(root / rel, limits)
            except BadFile as exc:
                report.skip(rel, exc.code, exc.reason)
                continue
            referenced = {str(s.SeriesInstanceUID) for s in seg.get("ReferencedSeriesSequence", [])}
            found = referenced & series_uids
            if not found:
                folder = str(PurePosixPath(rel).parent)
                beside = sorted(f"{f}/" for f in series_folders.values() if f == folder)
                where = f"not the series in {beside[0]} beside it" if beside else "none of those uploaded"
                report.skip(rel, "seg_other_series", "this DICOM-SEG references another series than those in the "
                            f"upload ({where}; its ReferencedSeriesSequence names {len(referenced)} series): "
                            "upload it with the series it was drawn on")
                continue
            uid = sorted(found)[0]
            if uid in segs:
                report.skip(rel, "duplicate", f"another DICOM-SEG ({segs[uid].rel}) references the same series")
                continue
            segs[uid] = SegObject(rel, uid, seg)
        if seg_files:
            classes = ClassMap("ids", names=["background"], ids=[0])
        elif len(json_files) == 1:
            classes = read_class_map(root / json_files[0], json_files[0], limits)
        else:
            classes = values_map(None)
        folders: dict[str, list[str]] = {}
        for rel in nifti:
            folders.setdefault(str(PurePosixPath(rel).parent), []).append(rel)
        return cls(root, folders, segs, classes, limits, options, cache, len(series_folders))

    def labels_for(self, uid: str, used: list[SliceHeader], stack_shape: tuple[int, ...],
                   spacing: tuple[float, float, float], others_in_folder: int) -> np.ndarray:
        """(D, H, W) class indices on the series' slices ``used`` (sorted along the normal); BadFile
        when the series has no usable mask."""
        if stack_shape[0] != len(used):
            raise BadFile("mask_on_resampled_series", "its slices are irregularly spaced and were resampled: a "
                          "mask drawn on the original slices can't follow; give the series regular spacing")
        if uid in self.segs:
            return self._from_seg(self.segs[uid], used)
        folder = series_folder(used)
        found = self.nifti.get(folder, [])
        if not found:
            raise BadFile("missing_mask", f"no mask for the series in {folder}/: put a mask.nii.gz beside its slices "
                          "or a DICOM-SEG that references it")
        if len(found) > 1 or others_in_folder:
            raise BadFile("ambiguous_mask", f"{folder}/ holds {len(found)} NIfTI files and "
                          f"{others_in_folder + 1} series: give each series its own folder with one mask")
        return self._from_nifti(found[0], used, stack_shape, spacing)

    def _from_seg(self, seg: SegObject, used: list[SliceHeader]) -> np.ndarray:
        seg.used = True
        try:
            pixels = seg.dataset.get_pixels_by_source_instance(
                [h.sop for h in used], combine_segments=True, assert_missing_frames_are_empty=True)
            labels = {n: str(seg.dataset.get_segment_description(n).segment_label or f"segment {n}")
                      for n in seg.dataset.get_segment_numbers()}
        except SEG_ERRORS as exc:
            raise BadFile("bad_dicom_seg", f"{seg.rel}: its frames can't be mapped to the series' slices: "
                          f"{type(exc).__name__}: {exc}") from exc
        lookup = np.zeros(max(labels, default=0) + 1, dtype=np.int16)
        for number, name in labels.items():
            if name not in self.classes.names:
                self.classes.names.append(name)
                self.classes.ids.append(len(self.classes.ids))
            lookup[number] = self.classes.names.index(name)
        return lookup[np.asarray(pixels, dtype=np.int64)]

    def _from_nifti(self, rel: str, used: list[SliceHeader], stack_shape: tuple[int, ...],
                    spacing: tuple[float, float, float]) -> np.ndarray:
        series_affine = _series_affine(used, spacing)
        try:
            image: Any = nibabel.load(self.root / rel)
            shape = tuple(int(s) for s in image.shape)
            if int(np.prod(shape)) > self.limits.max_volume_voxels:
                raise BadFile("volume_too_large", f"{rel}: the header declares {shape} voxels")
            data = np.asarray(image.dataobj, dtype=np.float64).reshape(shape[:3])
            transform = ornt_transform(io_orientation(image.affine), io_orientation(series_affine))
            data = apply_orientation(data, transform)
            affine = image.affine @ inv_ornt_aff(transform, shape[:3])
        except NIFTI_ERRORS as exc:
            raise BadFile("not_nifti", f"{rel}: not a readable NIfTI mask: {exc}") from exc
        want = (stack_shape[2], stack_shape[1], stack_shape[0])  # (columns, rows, slices) as NIfTI's x, y, z
        if data.shape != want:
            raise BadFile("mask_shape_mismatch", f"{rel}: the mask is {_xyz(data.shape)} voxels but its series is "
                          f"{_xyz(want)} (columns x rows x slices): a mask must lie on its series' voxel grid")
        voxel = float(min(spacing))
        if not np.allclose(affine[:3], series_affine[:3], atol=voxel * AFFINE_TOLERANCE):
            raise BadFile("mask_geometry_mismatch", f"{rel}: the mask has its series' shape but another position, "
                          "spacing or orientation (NIfTI affine against the slices' DICOM geometry)")
        if not np.array_equal(data, np.round(data)):
            raise BadFile("invalid_mask_value", f"{rel}: the mask holds fractional values, not class ids")
        return self.classes.to_indices(data.transpose(2, 1, 0).astype(np.int64))

    def add(self, labels: np.ndarray, spacing: tuple[float, float, float]) -> str:
        """Resample ``labels`` as the volume is resampled and write them; the names of the classes
        present, joined by ``+`` (the volume's label)."""
        depth, height, width = self.options.volume_shape
        if self.writer is None:
            shape = (depth, height, width) if self.options.mode == "3d" else (height, width)
            per_volume = 1 if self.options.mode == "3d" else depth
            self.writer = CacheWriter(self.cache, self.capacity * per_volume, shape, np.uint8, name="masks")
        resampled = resample_labels(labels, spacing, self.options).astype(np.uint8)
        present = tuple(int(c) for c in np.unique(labels))
        for plane in ([resampled] if self.options.mode == "3d" else list(resampled)):
            self.writer.append(plane)
            self.present.append(present)
        # Without a classes file, value v is class "v" (``finish_values`` names them so at the end).
        names = self.classes.names
        return "+".join(names[c] if c < len(names) else str(c) for c in present)[:200]

    def finish(self, volumes: VolumeCache, steps: list[str], report: Report) -> Collected:
        """The volumes and their masks as one segmentation ``Collected``; IngestError when no series
        had a usable mask."""
        for seg in self.segs.values():
            if not seg.used:
                report.skip(seg.rel, "missing_image", "the series this DICOM-SEG references was skipped")
        if self.writer is None or not self.present:
            bad = next((s for s in report.skipped if s.code not in ("partner_skipped", "missing_label")), None)
            raise IngestError(bad.code if bad else "no_series_mask_pairs",
                              f"no series with a usable mask was found: {bad.file}: {bad.reason}" if bad
                              else "no series with a usable mask was found", bad.file if bad else "")
        self.writer.close()
        if self.classes.mode == "values":
            self.classes.finish_values(max(max(p) for p in self.present))
        names = self.classes.names
        out = volumes.finish(self.options, [*steps, "masks: NIfTI reoriented onto the series' axes, or DICOM-SEG "
                                            "frames mapped to the slices they reference (highdicom); class indices "
                                            "0..K-1, resampled nearest-neighbour as the volume, stored in masks.npy"])
        samples_with = Counter(c for p in self.present for c in p)
        out.task, out.classes = "segmentation", list(names)
        out.strata = [names[min(p, key=lambda c: (samples_with[c], -c))] for p in self.present]
        out.labels = ["+".join(names[c] for c in p)[:200] for p in self.present]
        out.recipe.update({"target": "mask", "mask_dtype": "uint8", "class_map": self.classes.to_recipe(),
                           "palette": palette_of(self.classes)})
        out.stats["class_presence"] = {names[c]: n for c, n in sorted(samples_with.items())}
        return out


def _read_seg(path: Path, limits: Limits) -> Any:
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        voxels = int(header.get("Rows", 0)) * int(header.get("Columns", 0)) * int(header.get("NumberOfFrames", 1))
    except (*SEG_ERRORS, pydicom.errors.InvalidDicomError) as exc:
        raise BadFile("bad_dicom_seg", f"not a readable DICOM-SEG: {type(exc).__name__}") from exc
    if voxels > limits.max_volume_voxels:
        raise BadFile("volume_too_large", f"the DICOM-SEG declares {voxels} voxels; the limit is "
                      f"{limits.max_volume_voxels}")
    try:
        return highdicom.seg.segread(path)
    except (*SEG_ERRORS, pydicom.errors.InvalidDicomError) as exc:
        raise BadFile("bad_dicom_seg", f"not a readable DICOM-SEG: {type(exc).__name__}: {exc}") from exc


def _series_affine(used: list[SliceHeader], spacing: tuple[float, float, float]) -> np.ndarray:
    """The series' voxel (column, row, slice) to RAS millimetres, as a NIfTI writer such as
    dcm2niix or nibabel stores it; BadFile when the slices carry no position."""
    first = used[0]
    if first.corner is None:
        raise BadFile("no_positions", "the slices have no ImagePositionPatient: a NIfTI mask can't be placed on them")
    orientation = np.asarray(first.orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
    along_row, along_column = orientation[:3], orientation[3:]
    normal = np.cross(along_row, along_column)
    z_spacing, row_spacing, column_spacing = spacing
    lps = np.eye(4)
    lps[:3, 0] = along_row * column_spacing
    lps[:3, 1] = along_column * row_spacing
    lps[:3, 2] = normal * z_spacing
    lps[:3, 3] = first.corner
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _xyz(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)
