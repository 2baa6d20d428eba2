"""Previews rendered from the cache as PNG: images as they are, CT through a window."""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from .options import Window
from .volume import apply_window

MAX_PREVIEW_SIDE = 512
OVERLAY_ALPHA = 0.5


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
