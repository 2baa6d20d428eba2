"""Previews rendered from the cache as PNG: images as they are, CT through a window."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from .options import Window
from .orientation import RAS, layout_of
from .volume import apply_window

MAX_PREVIEW_SIDE = 512
OVERLAY_ALPHA = 0.5
PLANES = ("axial", "coronal", "sagittal")
MAX_ASPECT = 8.0  # a plane is never drawn more than 8 times longer than wide (one replicated slice)


def radiological(array: np.ndarray, recipe: dict[str, Any]) -> np.ndarray:
    """A CT slice or (D, H, W) volume as radiologists look at it: anterior at the top and the
    patient's right on the left of an axial slice (coronal: right on the left; sagittal: anterior
    on the left). A RAS cache (rows towards anterior, columns towards the right) is flipped in both
    in-plane axes (a view: a memory map still reads only the slice asked for); a DICOM series cached
    as stored (before the RAS layout) already is so."""
    if recipe.get("input") != "ct" or layout_of(recipe) != RAS:
        return array
    return array[..., ::-1, ::-1]


def render_png(sample: np.ndarray, recipe: dict[str, Any], *, window: Window | None = None,
               slice_index: int | None = None, size: int | None = None, mask: np.ndarray | None = None) -> bytes:
    """A PNG of one cached sample (images, CT slices or the chosen slice of a CT volume); with
    ``mask`` (class indices), the image with every class but 0 overlaid in its palette colour."""
    if recipe["input"] == "image":
        plane = np.asarray(sample, dtype=np.float32) / (255.0 if sample.dtype == np.uint8 else 1.0)
        picture = plane[0] if plane.shape[0] == 1 else plane.transpose(1, 2, 0)
    elif recipe["input"] == "ct":
        array = np.asarray(sample[0], dtype=np.float32)
        if array.ndim == 3:
            depth = array.shape[0]
            index = depth // 2 if slice_index is None else min(max(slice_index, 0), depth - 1)
            array = array[index]
            if mask is not None and np.ndim(mask) == 3:  # a volume's label mask: the same slice of it
                mask = np.asarray(mask)[index]
        array = radiological(array, recipe)
        mask = None if mask is None else radiological(np.asarray(mask), recipe)
        picture = apply_window(array, window or Window.from_recipe(recipe["window"]))
    else:
        raise ValueError(f"no picture for {recipe['input']} samples")
    pixels = (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
    if mask is not None:
        pixels = overlay(pixels, np.asarray(mask), recipe["palette"])
    image = Image.fromarray(pixels)
    side = min(size or MAX_PREVIEW_SIDE, MAX_PREVIEW_SIDE)
    if max(image.size) < side:  # small images (8x8 digits) are blown up, crisp
        scale = max(1, side // max(image.size))
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    elif max(image.size) > side:
        image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def overlay(pixels: np.ndarray, mask: np.ndarray, palette: list[list[int]], alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """RGB uint8: ``pixels`` (H, W) or (H, W, 3) with the classes of ``mask`` blended over them."""
    rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    colours = np.asarray(palette, dtype=np.float32)[np.clip(mask.astype(np.int64), 0, len(palette) - 1)]
    blend = np.where((mask > 0)[..., None], (1 - alpha) * rgb + alpha * colours, rgb)
    return blend.round().astype(np.uint8)


def plane_count(shape: tuple[int, int, int], plane: str) -> int:
    """How many slices a (D, H, W) volume has in ``plane``."""
    return shape[PLANES.index(plane)]


def cut_plane(volume: np.ndarray, plane: str, index: int) -> np.ndarray:
    """One slice of a (D, H, W) volume (a memory map reads only that slice) as an image: axial
    as stored; coronal and sagittal with the last slice of the stack at the top (head up for
    an axial stack sorted feet to head)."""
    if plane == "axial":
        return np.asarray(volume[index], dtype=np.float32)
    cut = volume[:, index, :] if plane == "coronal" else volume[:, :, index]
    return np.asarray(cut, dtype=np.float32)[::-1]


def render_plane(volume: np.ndarray, plane: str, index: int, window: Window, *, voxel_mm: tuple[float, float, float],
                 size: int = MAX_PREVIEW_SIDE) -> bytes:
    """A PNG of slice ``index`` of a (D, H, W) HU volume in ``plane`` through ``window``, drawn
    with square millimetres (``voxel_mm``: the voxel's depth, height, width) and its longer side
    ``size`` pixels (at most MAX_PREVIEW_SIDE). ValueError for an unknown plane or index."""
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {', '.join(PLANES)}")
    count = plane_count(tuple(volume.shape), plane)  # type: ignore[arg-type]
    if not 0 <= index < count:
        raise ValueError(f"the {plane} plane has slices 0 to {count - 1}")
    picture = apply_window(cut_plane(volume, plane, index), window)
    rows_mm, cols_mm = {"axial": (voxel_mm[1], voxel_mm[2]), "coronal": (voxel_mm[0], voxel_mm[2]),
                        "sagittal": (voxel_mm[0], voxel_mm[1])}[plane]
    height_mm, width_mm = picture.shape[0] * rows_mm, picture.shape[1] * cols_mm
    aspect = min(max(height_mm / width_mm, 1 / MAX_ASPECT), MAX_ASPECT) if width_mm > 0 else 1.0
    side = min(size, MAX_PREVIEW_SIDE)
    width, height = (side, max(1, round(side * aspect))) if aspect <= 1 else (max(1, round(side / aspect)), side)
    pixels = (picture * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
