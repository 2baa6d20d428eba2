"""Images with masks for segmentation: ``images/`` and ``masks/`` folders in a zip, paired by
file stem, with an optional classes.json or CSV naming the mask's ids or colours.

Every file that cannot be used is skipped by name, and so is its partner: an image without a
mask, a mask without an image, a mask of another size than its image, or with values that are
not class ids. Images are resized bilinear, masks nearest, so class ids are never blended.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from .cache import CacheWriter
from .classmap import ClassMap, read_class_map, values_map
from .collected import Collected
from .images import EXTENSIONS, GREY_MODES, IMAGE_ERRORS, _common_size, _size_counts, decode, probe
from .limits import Limits
from .options import SegmentationOptions
from .report import BadFile, IngestError, ProgressFn, Report

MASK_EXTENSIONS = {".png", ".bmp", ".tif", ".tiff"}  # lossless only: JPEG would blend class ids
IMAGE_FOLDERS, MASK_FOLDERS = {"images", "image", "imgs"}, {"masks", "mask", "labels", "annotations"}
SINGLE_CHANNEL = {"1", "L", "P", "I", "I;16", "I;16B", "I;16L"}
THUMBNAILS_PER_CLASS = 4
# Preview colours for classes without a colour of their own (class 0 is drawn transparent).
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]


@dataclass
class Pair:
    image: str
    mask: str
    size: tuple[int, int] = (0, 0)
    mode: str = ""
    present: tuple[int, ...] = ()


def read_mask(path: Path, limits: Limits, classes: ClassMap) -> np.ndarray:
    """(H, W) int16 class indices of one mask file; BadFile when it is not a usable mask."""
    probe(path, limits)  # refuses oversized headers before decoding
    try:
        with Image.open(path) as im:
            im.load()
            if classes.wants_rgb:
                values = np.asarray(im.convert("RGB"))
            elif im.mode in SINGLE_CHANNEL:
                values = np.asarray(im).astype(np.int64)  # "P": the palette index is the id
            else:
                rgb = np.asarray(im.convert("RGB"))
                if not ((rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])).all():
                    raise BadFile("mask_not_single_channel", "a colour mask needs a classes file naming its colours")
                values = rgb[..., 0].astype(np.int64)
    except IMAGE_ERRORS as exc:
        raise BadFile("corrupt_mask", f"cannot be decoded: {exc}") from exc
    return classes.to_indices(values)


def ingest_masks(root: Path, files: list[str], options: SegmentationOptions, limits: Limits, report: Report,
                 progress: ProgressFn, cache: Path) -> Collected:
    classes_file = find_classes_file(files, options.classes_file)
    classes = read_class_map(root / classes_file, classes_file, limits) if classes_file else values_map(options.num_classes)
    pairs = pair_files(files, classes_file, report)
    if not pairs:
        raise IngestError("no_image_mask_pairs", "no image with a matching mask was found: put images in images/ "
                          "and masks of the same file name in masks/")
    usable = _scan(root, pairs, classes, limits, report, progress)
    if not usable:
        raise IngestError("no_images", "no usable image and mask pair was found (see the skipped files)")
    if classes.mode == "values":
        classes.finish_values(max(max(p.present) for p in usable))
    size = tuple(options.image_size) if options.image_size else _common_size(p.size for p in usable)
    channels = options.channels or (3 if any(p.mode not in GREY_MODES for p in usable) else 1)
    mask_dtype = np.uint8 if len(classes.names) <= 256 else np.int16
    images = CacheWriter(cache, len(usable), (channels, *size), np.uint8)
    masks = CacheWriter(cache, len(usable), tuple(size), mask_dtype, name="masks")
    out = Collected(task="segmentation", classes=list(classes.names))
    samples_with = Counter(c for p in usable for c in p.present)
    for done, pair in enumerate(usable, 1):
        progress("decode", done, len(usable))
        try:
            array = decode(root / pair.image, limits, size, channels)  # type: ignore[arg-type]  # probed
            mask = read_mask(root / pair.mask, limits, classes)
        except BadFile as exc:  # a file that changed its mind between scan and decode
            report.skip(pair.image, exc.code, exc.reason)
            continue
        images.append((array * 255.0).round().astype(np.uint8))
        masks.append(_resize_nearest(mask, size).astype(mask_dtype))  # type: ignore[arg-type]
        present = [classes.names[c] for c in pair.present]
        rarest = min(pair.present, key=lambda c: (samples_with[c], -c))
        out.add(pair.image, "+".join(present)[:200], pair.image,
                {"original_size": list(pair.size), "mask": pair.mask, "classes_present": present})
        out.strata.append(classes.names[rarest])
    images.close()
    masks.close()
    out.recipe = {
        "input": "image", "target": "mask", "layout": "NCHW", "dtype": "uint8", "scale": 1 / 255,
        "size": list(size), "channels": channels, "mask_dtype": np.dtype(mask_dtype).name,
        "class_map": classes.to_recipe(), "palette": palette_of(classes),
        "steps": ["decode", f"convert to {'L' if channels == 1 else 'RGB'}", f"resize bilinear to {size[0]}x{size[1]}",
                  "masks: values mapped to class indices 0..K-1, resized nearest, stored in masks.npy",
                  "stored as uint8; the loader scales images to [0, 1] and reads masks as int64"],
    }
    out.stats = {
        "original_sizes": _size_counts(p.size for p in usable),
        "class_presence": {classes.names[c]: n for c, n in sorted(samples_with.items())},
        "thumbnails": _thumbnails(out),
    }
    return out


def find_classes_file(files: list[str], wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in files:
            raise IngestError("classes_file_missing", f"classes_file {wanted!r} is not in the archive", wanted)
        return wanted
    found = [f for f in files if PurePosixPath(f).suffix.lower() in (".json", ".csv") and pair_folder(f)[0] is None]
    if len(found) > 1:
        raise IngestError("classes_file_ambiguous", f"the archive has several class files ({', '.join(found[:5])}); "
                          "name one with the classes_file option", found[0])
    return found[0] if found else None


def pair_folder(rel: str, strip: Callable[[PurePosixPath], str] = lambda p: str(p.with_suffix(""))
                ) -> tuple[str | None, tuple[str, str]]:
    """('images' | 'masks' | None, (folder above, path below without extension)); ``strip`` takes
    the extension off (``.nii.gz`` is two suffixes)."""
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts[:-1]):
        role = "images" if part.lower() in IMAGE_FOLDERS else "masks" if part.lower() in MASK_FOLDERS else None
        if role:
            below = PurePosixPath(*parts[i + 1 :])
            return role, ("/".join(parts[:i]), strip(below))
    return None, ("", "")


def pair_files(files: list[str], classes_file: str | None, report: Report) -> list[Pair]:
    """The image and mask pairs of ``files`` (``images/`` and ``masks/`` paired by stem); every
    other file, and a file without its partner, is skipped on ``report``."""
    found: dict[str, dict[tuple[str, str], str]] = {"images": {}, "masks": {}}
    for rel in files:
        if rel == classes_file:
            continue
        role, key = pair_folder(rel)
        suffix = PurePosixPath(rel).suffix.lower()
        if role is None:
            report.skip(rel, "unsupported_type", "not in an images/ or masks/ folder")
        elif role == "images" and suffix not in EXTENSIONS:
            report.skip(rel, "unsupported_type", "not an image (PNG, JPEG, BMP or TIFF)")
        elif role == "masks" and suffix not in MASK_EXTENSIONS:
            code = "lossy_mask" if suffix in (".jpg", ".jpeg") else "unsupported_type"
            report.skip(rel, code, "masks must be lossless images (PNG, BMP or TIFF)")
        elif key in found[role]:
            report.skip(rel, "duplicate", f"another file in {role}/ has the same name ({found[role][key]})")
        else:
            found[role][key] = rel
    return [Pair(image, mask) for image, mask, _ in matched(found, report, "image")]


def matched(found: dict[str, dict[tuple[str, str], str]], report: Report,
            noun: str) -> list[tuple[str, str, tuple[str, str]]]:
    """(image path, mask path, key) for every key found in both ``images/`` and ``masks/``, in key
    order; a file without its partner is skipped on the report (``noun``: "image", "volume")."""
    images, masks = found["images"], found["masks"]
    for key in sorted(set(images) - set(masks)):
        report.skip(images[key], "missing_mask", "no mask with the same name in masks/")
    for key in sorted(set(masks) - set(images)):
        report.skip(masks[key], "missing_image", f"no {noun} with the same name in images/")
    return [(images[k], masks[k], k) for k in sorted(set(images) & set(masks))]


def _scan(root: Path, pairs: list[Pair], classes: ClassMap, limits: Limits, report: Report,
          progress: ProgressFn) -> list[Pair]:
    """The pairs whose image and mask are readable, of one size, and hold only class ids."""
    usable = []
    for done, pair in enumerate(pairs, 1):
        progress("scan", done, len(pairs))
        try:
            pair.size, pair.mode = probe(root / pair.image, limits)
        except BadFile as exc:
            _skip_both(report, pair.image, pair.mask, exc)
            continue
        try:
            mask = read_mask(root / pair.mask, limits, classes)
            if mask.shape != pair.size:
                raise BadFile("mask_size_mismatch", f"the mask is {mask.shape[1]}x{mask.shape[0]} pixels but its "
                              f"image is {pair.size[1]}x{pair.size[0]}")
        except BadFile as exc:
            _skip_both(report, pair.mask, pair.image, exc)
            continue
        pair.present = tuple(int(c) for c in np.unique(mask))
        usable.append(pair)
    return usable


def _skip_both(report: Report, bad: str, partner: str, exc: BadFile) -> None:
    report.skip(bad, exc.code, exc.reason)
    report.skip(partner, "partner_skipped", f"its partner {bad} was skipped ({exc.code})")


def _resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = mask.shape
    if (height, width) == tuple(size):
        return mask
    rows = np.minimum((np.arange(size[0]) + 0.5) * height / size[0], height - 1).astype(np.int64)
    cols = np.minimum((np.arange(size[1]) + 0.5) * width / size[1], width - 1).astype(np.int64)
    return mask[rows[:, None], cols[None, :]]


def palette_of(classes: ClassMap) -> list[list[int]]:
    if classes.mode == "colours":
        return [list(c) for c in classes.colours]
    return [[0, 0, 0]] + [list(PALETTE[i % len(PALETTE)]) for i in range(len(classes.names) - 1)]


def _thumbnails(out: Collected) -> dict[str, list[int]]:
    picked: dict[str, list[int]] = {}
    for index, meta in enumerate(out.metas):
        for name in meta["classes_present"]:
            chosen = picked.setdefault(name, [])
            if len(chosen) < THUMBNAILS_PER_CLASS:
                chosen.append(index)
    return picked
