"""A 3-D segmentation sample's preview overlays the shown slice of its label mask, not the volume."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipelines.datasets.preview import render_png


def test_a_volume_preview_overlays_the_same_slice_of_its_mask() -> None:
    volume = np.full((1, 4, 8, 8), -1000.0, dtype=np.float32)
    mask = np.zeros((4, 8, 8), dtype=np.uint8)
    mask[2, 2:5, 2:5] = 1  # a lesion on slice 2 only
    recipe = {"input": "ct", "window": {"preset": "lung"}, "palette": [[0, 0, 0], [255, 0, 0]]}
    shown = [np.asarray(Image.open(io.BytesIO(render_png(volume, recipe, slice_index=i, size=8, mask=mask))).convert("RGB"))
             for i in (1, 2)]
    assert shown[0].shape == shown[1].shape == (8, 8, 3)
    red = [int(((s[..., 0] > 150) & (s[..., 1] < 100)).sum()) for s in shown]
    assert red[0] == 0 and red[1] == 9, red
