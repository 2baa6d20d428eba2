"""CT volumes with label masks for 3-D segmentation: a ``ct_nifti`` zip holding ``images/`` and
``masks/`` (or ``labels/``) folders of NIfTI files paired by name::

    images/case001.nii.gz   the CT volume (HU)
    masks/case001.nii.gz    its label mask: integer class ids, same grid as the image
    classes.json            optional: {"background": 0, "lesion": 1}; else the values are the classes

A mask must lie on its image's grid: the same shape and the same affine (within a tenth of a
voxel) after both are turned to the closest canonical (RAS) axes. A mask that does not, or holds
values that are not class ids, is skipped with its image, both named in the report. The image is
resampled trilinear and the mask nearest-neighbour through the same geometry, so they stay aligned
and class ids are never blended.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import nibabel
import numpy as np
import torch
import torch.nn.functional as F
from nibabel.orientations import inv_ornt_aff, io_orientation

from .cache import CacheWriter
from .classmap import ClassMap, read_class_map, values_map
from .collected import Collected
from .limits import Limits
from .masks import find_classes_file, matched, pair_folder, palette_of
from .nifti import READ_ERRORS, read_volume_and_affine
from .options import VolumeOptions
from .report import BadFile, IngestError, ProgressFn, Report
from .volume import Pseudonyms, VolumeCache, resample

AFFINE_TOLERANCE = 0.1  # of a voxel: masks written by other tools round their affines


def has_mask_folder(files: list[str]) -> bool:
    """Whether a NIfTI archive holds label masks (a NIfTI file under a ``masks/`` or ``labels/`` folder)."""
    return any(pair_folder(f, strip=_stem)[0] == "masks" and _is_nifti(f) for f in files)


@dataclass
class VolumePair:
    image: str
    mask: str
    case: str
    present: tuple[int, ...] = ()


def ingest_nifti_masks(root: Path, files: list[str], options: VolumeOptions, limits: Limits, report: Report,
                       progress: ProgressFn, cache: Path) -> Collected:
    """Pairs of ``images/<case>.nii[.gz]`` and ``masks/<case>.nii[.gz]`` into the cache: volumes as
    ``inputs.npy`` (``VolumeCache``) and masks as ``masks.npy`` ((N, D, H, W), or (N, H, W) in 2d
    mode). A first pass checks every mask against its image's header (one volume in memory at a
    time), the second resamples and writes. IngestError naming a file when no pair is usable."""
    classes_file = find_classes_file(files, None)
    classes = read_class_map(root / classes_file, classes_file, limits) if classes_file else values_map(None)
    if classes.mode == "colours":
        raise IngestError("bad_classes_file", "volume masks hold class ids; give each class an integer id",
                          classes_file or "")
    pairs = pair_files(files, classes_file, report)
    if not pairs:
        raise IngestError("no_image_mask_pairs", "no volume with a matching mask was found: put volumes in "
                          "images/ and masks of the same file name in masks/")
    usable = []
    for done, pair in enumerate(pairs, 1):
        progress("scan", done, len(pairs))
        try:
            shape, affine = image_geometry(root / pair.image, limits)
        except BadFile as exc:
            _skip_both(report, pair.image, pair.mask, exc)
            continue
        try:
            mask = _read_mask(root / pair.mask, limits, classes, shape, affine)
        except BadFile as exc:
            _skip_both(report, pair.mask, pair.image, exc)
            continue
        pair.present = tuple(int(c) for c in np.unique(mask))
        usable.append(pair)
    if not usable:
        bad = next((s for s in report.skipped if s.code != "partner_skipped"), None)
        raise IngestError(bad.code if bad else "no_usable_pairs",
                          f"no volume and mask pair was usable: {bad.file}: {bad.reason}" if bad
                          else "no volume and mask pair was usable", bad.file if bad else pairs[0].mask)
    if classes.mode == "values":
        classes.finish_values(max(max(p.present) for p in usable))
    return _write(root, usable, classes, options, limits, report, progress, cache)


def image_geometry(path: Path, limits: Limits) -> tuple[tuple[int, int, int], np.ndarray]:
    """(D, H, W) shape and canonical (RAS) affine of a NIfTI volume from its header alone, as
    ``nifti.read_volume_and_affine`` would give them."""
    try:
        image: Any = nibabel.load(path)  # a NIfTI image (the stubs name only the base class)
        shape = tuple(int(s) for s in image.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise BadFile("unsupported", f"a 3D volume is needed; the header declares shape {shape}")
        ornt = io_orientation(image.affine)
        affine = image.affine @ inv_ornt_aff(ornt, shape)
        xyz = [0, 0, 0]
        for axis, (target, _) in enumerate(ornt):
            xyz[int(target)] = shape[axis]
    except READ_ERRORS as exc:
        raise BadFile("not_nifti", f"not a readable NIfTI file: {exc}") from exc
    if xyz[0] * xyz[1] * xyz[2] > limits.max_volume_voxels:
        raise BadFile("volume_too_large", f"the header declares {shape}; the limit is {limits.max_volume_voxels} voxels")
    return (xyz[2], xyz[1], xyz[0]), np.asarray(affine, dtype=np.float64)


def _write(root: Path, usable: list[VolumePair], classes: ClassMap, options: VolumeOptions, limits: Limits,
           report: Report, progress: ProgressFn, cache: Path) -> Collected:
    depth, height, width = options.volume_shape
    mask_shape = (depth, height, width) if options.mode == "3d" else (height, width)
    per_volume = 1 if options.mode == "3d" else depth
    mask_dtype = np.uint8 if len(classes.names) <= 256 else np.int16
    volumes = VolumeCache(cache, len(usable), options)
    masks = CacheWriter(cache, len(usable) * per_volume, mask_shape, mask_dtype, name="masks")
    pseudonym = Pseudonyms()
    samples_with = Counter(c for p in usable for c in p.present)
    strata: list[str] = []
    for done, pair in enumerate(usable, 1):
        progress("decode", done, len(usable))
        try:  # a file that changed its mind between scan and decode
            image, spacing, affine = read_volume_and_affine(root / pair.image, limits)
            mask = _read_mask(root / pair.mask, limits, classes, image.shape, affine)
        except BadFile as exc:
            report.skip(pair.image, exc.code, exc.reason)
            continue
        present = [classes.names[c] for c in pair.present]
        rarest = classes.names[min(pair.present, key=lambda c: (samples_with[c], -c))]
        meta = {"original_shape": list(image.shape), "spacing_mm": [round(s, 4) for s in spacing],
                "mask": pair.mask, "classes_present": present}
        volumes.add(resample(image, spacing, options), f"volume {done}", "+".join(present)[:200],
                    pseudonym("patient", pair.case), meta)
        labels = resample_labels(mask, spacing, options).astype(mask_dtype)
        for plane in ([labels] if options.mode == "3d" else list(labels)):
            masks.append(plane)
            strata.append(rarest)
    masks.close()
    out = volumes.finish(options, ["NIfTI reoriented to the closest canonical (RAS) axes, scaled by scl_slope/inter",
                                   "masks: same reorientation, values mapped to class indices 0..K-1, resampled "
                                   "nearest-neighbour through the image's geometry, stored in masks.npy"])
    out.task = "segmentation"
    out.classes = list(classes.names)
    out.strata = strata
    out.recipe.update({"target": "mask", "mask_dtype": np.dtype(mask_dtype).name, "class_map": classes.to_recipe(),
                       "palette": palette_of(classes)})
    out.stats["class_presence"] = {classes.names[c]: n for c, n in sorted(samples_with.items())}
    return out


def resample_labels(mask: np.ndarray, spacing: tuple[float, float, float], options: VolumeOptions) -> np.ndarray:
    """(D, H, W) class ids through the geometry ``volume.resample`` gives the image, nearest-neighbour
    ("nearest-exact" samples voxel centres as trilinear with ``align_corners=False`` does), and
    class 0 where the image is padded with air."""
    tensor = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    target = tuple(options.volume_shape)
    if options.spacing is not None:
        size = tuple(max(1, int(round(n * s / t))) for n, s, t in zip(mask.shape, spacing, options.spacing, strict=True))
        resized = F.interpolate(tensor, size=size, mode="nearest-exact")[0, 0].numpy()
        return _crop_or_pad(resized, target).round().astype(np.int16)
    if tuple(mask.shape) != target:
        tensor = F.interpolate(tensor, size=target, mode="nearest-exact")
    return tensor[0, 0].numpy().round().astype(np.int16)


def _read_mask(path: Path, limits: Limits, classes: ClassMap, shape: tuple[int, ...],
               affine: np.ndarray) -> np.ndarray:
    mask, _, mask_affine = read_volume_and_affine(path, limits)
    if mask.shape != shape:
        # Shapes as the file declares them (x, y, z), which is what the user's tools show.
        raise BadFile("mask_shape_mismatch", f"the mask is {_xyz(mask.shape)} voxels but its image is "
                      f"{_xyz(shape)}: a mask must lie on its image's voxel grid")
    voxel = np.linalg.norm(affine[:3, :3], axis=0)
    if not np.allclose(mask_affine[:3, 3], affine[:3, 3], atol=float(voxel.min()) * AFFINE_TOLERANCE) \
            or not np.allclose(mask_affine[:3, :3], affine[:3, :3], atol=float(voxel.min()) * AFFINE_TOLERANCE):
        raise BadFile("mask_geometry_mismatch", "the mask has its image's shape but another position, spacing "
                      "or orientation (NIfTI affine): it would not overlay the image")
    if not np.array_equal(mask, np.round(mask)):
        raise BadFile("invalid_mask_value", "the mask holds fractional values; a label mask holds integer class ids")
    return classes.to_indices(mask.astype(np.int64))


def _crop_or_pad(labels: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """Centre crop / pad with background, at the offsets ``volume.resample`` crops the image at."""
    out = np.zeros(target, dtype=labels.dtype)
    src, dst = [], []
    for have, want in zip(labels.shape, target, strict=True):
        start = abs(have - want) // 2
        src.append(slice(start, start + want) if have >= want else slice(0, have))
        dst.append(slice(0, want) if have >= want else slice(start, start + have))
    out[tuple(dst)] = labels[tuple(src)]
    return out


def _xyz(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in reversed(shape))


def _is_nifti(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(".nii") or lowered.endswith(".nii.gz")


def _stem(path: PurePosixPath) -> str:
    name = str(path)
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def pair_files(files: list[str], classes_file: str | None, report: Report) -> list[VolumePair]:
    """The volume and mask pairs of ``files`` (``images/`` and ``masks/`` NIfTI paired by name, the
    case being the path below the folder); every other file, and one without its partner, is
    skipped on ``report``."""
    found: dict[str, dict[tuple[str, str], str]] = {"images": {}, "masks": {}}
    for rel in files:
        if rel == classes_file:
            continue
        role, key = pair_folder(rel, strip=_stem)
        if role is None:
            report.skip(rel, "unsupported_type", "not in an images/ or masks/ folder")
        elif not _is_nifti(rel):
            report.skip(rel, "unsupported_type", "not a NIfTI volume (.nii or .nii.gz)")
        elif key in found[role]:
            report.skip(rel, "duplicate", f"another file in {role}/ has the same name ({found[role][key]})")
        else:
            found[role][key] = rel
    return [VolumePair(image, mask, "/".join(key)) for image, mask, key in matched(found, report, "volume")]


def _skip_both(report: Report, bad: str, partner: str, exc: BadFile) -> None:
    report.skip(bad, exc.code, exc.reason)
    report.skip(partner, "partner_skipped", f"its partner {bad} was skipped ({exc.code})")


def write_mask_nifti(path: Path, mask: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """(D, H, W) class ids as a uint8 NIfTI whose voxel (x, y, z) is ``mask[z, y, x]``."""
    image = nibabel.Nifti1Image(np.ascontiguousarray(np.asarray(mask).transpose(2, 1, 0)).astype(np.uint8),
                                np.eye(4) if affine is None else affine)
    nibabel.save(image, path)
    return path


def labels_to_source_grid(labels: np.ndarray, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                          options: VolumeOptions) -> np.ndarray:
    """The inverse of ``resample_labels``: (D', H', W') class ids on the model's grid back onto a
    source volume's (D, H, W) grid of ``spacing`` (z, y, x) mm, nearest-neighbour; what fell
    outside the crop is background."""
    grid = np.asarray(labels, dtype=np.float32)
    if options.spacing is not None:
        size = tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, options.spacing, strict=True))
        grid = _crop_or_pad(grid, size)  # centred both ways: the crop's offsets undo the pad's
    tensor = torch.from_numpy(np.ascontiguousarray(grid))[None, None]
    if tuple(grid.shape) != tuple(shape):
        tensor = F.interpolate(tensor, size=tuple(shape), mode="nearest-exact")
    return tensor[0, 0].numpy().round().astype(np.uint8 if labels.max(initial=0) < 256 else np.int16)
