"""Images for classification: class folders in a zip, or files with a labels CSV."""
from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from .cache import CacheWriter
from .collected import Collected, entries_from_class_folders, find_labels_csv
from .csvfile import column, read_csv
from .limits import Limits
from .options import ImageOptions
from .report import BadFile, IngestError, ProgressFn, Report
from .safety import UnsafeName, clean_member_name

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
MAX_DEFAULT_SIDE = 256
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError,
                EOFError, MemoryError)


def probe(path: Path, limits: Limits) -> tuple[tuple[int, int], str]:
    """((height, width), mode) from the header only; BadFile before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                mode = im.mode
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadFile("image_too_large", f"decompression bomb: {exc}") from exc
    except IMAGE_ERRORS as exc:
        raise BadFile("unreadable_image", f"not a readable image: {exc}") from exc
    if width <= 0 or height <= 0 or width * height > limits.max_image_pixels:
        raise BadFile(
            "image_too_large",
            f"declares {width}x{height} pixels; the limit is {limits.max_image_pixels} pixels",
        )
    return (height, width), mode


def decode(path: Path, limits: Limits, size: tuple[int, int], channels: int) -> np.ndarray:
    """(channels, height, width) float32 in [0, 1], resized to ``size``. Call ``probe`` first:
    it refuses oversized images before any pixel is decoded."""
    try:
        with Image.open(path) as opened:
            opened.load()
            im = _to_8bit(opened).convert("L" if channels == 1 else "RGB")
            if im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(im, dtype=np.float32) / 255.0
    except IMAGE_ERRORS as exc:
        raise BadFile("corrupt_image", f"cannot be decoded: {exc}") from exc
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _to_8bit(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(im, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low or 1.0) * 255.0
        return Image.fromarray(scaled.astype(np.uint8))
    return im


def ingest_images(root: Path, files: list[str], options: ImageOptions, limits: Limits, report: Report,
                  progress: ProgressFn, cache: Path) -> Collected:
    entries = _labelled_files(root, files, options, report)
    probed: list[tuple[str, str, str, tuple[int, int], str]] = []
    for done, (rel, label, group) in enumerate(entries, 1):
        progress("scan", done, len(entries))
        try:
            size, mode = probe(root / rel, limits)
        except BadFile as exc:
            report.skip(rel, exc.code, exc.reason)
            continue
        probed.append((rel, label, group, size, mode))
    if not probed:
        raise IngestError("no_images", "no usable image was found (see the skipped files)")
    size = options.image_size or _common_size(p[3] for p in probed)
    channels = options.channels or (3 if any(p[4] not in GREY_MODES for p in probed) else 1)
    # 8-bit sources stay 8-bit: lossless, compact, and cheap to widen in the loader.
    writer = CacheWriter(cache, len(probed), (channels, *size), np.uint8)
    out = Collected()
    colour_sum = np.zeros(channels)
    for done, (rel, label, group, original, _mode) in enumerate(probed, 1):
        progress("decode", done, len(probed))
        try:
            array = decode(root / rel, limits, size, channels)  # type: ignore[arg-type]  # probed above
        except BadFile as exc:
            report.skip(rel, exc.code, exc.reason)
            continue
        writer.append((array * 255.0).round().astype(np.uint8))
        colour_sum += array.mean(axis=(1, 2))
        out.add(rel, label, group, {"original_size": list(original)})
    writer.close()
    out.recipe = {
        "input": "image", "layout": "NCHW", "dtype": "uint8", "scale": 1 / 255, "size": list(size), "channels": channels,
        "steps": ["decode", f"convert to {'L' if channels == 1 else 'RGB'}",
                  f"resize bilinear to {size[0]}x{size[1]}", "stored as uint8; the loader scales to [0, 1]"],
    }
    out.stats = {"channel_mean": (colour_sum / max(len(out.names), 1)).round(4).tolist(),
                 "original_sizes": _size_counts(p[3] for p in probed)}
    return out


def _labelled_files(root: Path, files: list[str], options: ImageOptions,
                    report: Report) -> list[tuple[str, str, str]]:
    """(relative path, label, group) of every candidate image."""
    labels_csv = find_labels_csv(root, files, options.labels_csv)
    images = [f for f in files if PurePosixPath(f).suffix.lower() in EXTENSIONS]
    for other in sorted(set(files) - set(images) - {labels_csv}):
        report.skip(other, "unsupported_type", "not an image (PNG, JPEG, BMP or TIFF)")
    if labels_csv is None:
        return entries_from_class_folders(images, report)
    return _from_labels_csv(root, labels_csv, set(images), report)


def _from_labels_csv(root: Path, labels_csv: str, images: set[str],
                     report: Report) -> list[tuple[str, str, str]]:
    limits = Limits()
    header, rows = read_csv(root / labels_csv, limits, name=labels_csv)
    file_col = column(header, ("file", "filename", "path", "image"), labels_csv)
    label_col = column(header, "label", labels_csv)
    group_col = column(header, ("group", "patient", "patient_id"), labels_csv, required=False)
    base = PurePosixPath(labels_csv).parent
    by_name = {PurePosixPath(i).name: i for i in images}
    entries: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for row in rows:
        raw = row[file_col]  # type: ignore[index]
        try:
            name = clean_member_name(raw)
        except UnsafeName as exc:
            report.skip(raw, "unsafe_name", f"in {labels_csv}: {exc}")
            continue
        rel = str(base / name) if str(base) != "." else name
        rel = rel if rel in images else by_name.get(name, "")
        if not rel:
            report.skip(raw, "missing_file", f"listed in {labels_csv} but not in the archive")
            continue
        label = row[label_col].strip()  # type: ignore[index]
        if not label:
            report.skip(raw, "missing_label", f"has no label in {labels_csv}")
            continue
        if rel in seen:
            report.skip(raw, "duplicate", f"listed twice in {labels_csv}; the first row counts")
            continue
        seen.add(rel)
        group = row[group_col].strip() if group_col is not None and row[group_col].strip() else rel
        entries.append((rel, label, group))
    return entries


def _common_size(sizes: Any) -> tuple[int, int]:
    height, width = Counter(sizes).most_common(1)[0][0]
    scale = min(1.0, MAX_DEFAULT_SIDE / max(height, width))
    return max(4, int(round(height * scale))), max(4, int(round(width * scale)))


def _size_counts(sizes: Any) -> list[dict[str, Any]]:
    return [{"size": list(s), "count": n} for s, n in Counter(sizes).most_common(10)]
