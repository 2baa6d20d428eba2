"""What CT volumes from DICOM and NIfTI share: resampling, windowing, labels, pseudonyms, cache."""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .cache import CacheWriter
from .collected import Collected
from .options import VolumeOptions, Window
from .orientation import RAS

AIR_HU = -1024.0
HU_RANGE = (-1024.0, 3071.0)
HISTOGRAM_RANGE = (-1100.0, 1500.0)
MAX_SERIES_LISTED = 2000  # the per-series list in the statistics stops here; the warning count does not


class Pseudonyms:
    """Stable within one ingest, unlinkable afterwards: the salt is never stored."""

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)

    def __call__(self, prefix: str, value: str) -> str:
        return f"{prefix}-{hashlib.sha256(self._salt + value.encode()).hexdigest()[:12]}"


def resample(volume: np.ndarray, spacing: tuple[float, float, float], options: VolumeOptions) -> np.ndarray:
    """(D, H, W) HU volume to ``options.volume_shape``: to ``options.spacing`` first when given
    (then centre crop / pad with air), else stretched to the shape."""
    tensor = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[None, None]
    target = tuple(options.volume_shape)
    if options.spacing is not None:
        size = tuple(max(1, int(round(n * s / t))) for n, s, t in zip(volume.shape, spacing, options.spacing, strict=True))
        tensor = F.interpolate(tensor, size=size, mode="trilinear", align_corners=False)
        return _crop_or_pad(tensor[0, 0].numpy(), target)
    if tuple(volume.shape) != target:
        tensor = F.interpolate(tensor, size=target, mode="trilinear", align_corners=False)
    return tensor[0, 0].numpy()


def _crop_or_pad(volume: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    out = np.full(target, AIR_HU, dtype=np.float32)
    src, dst = [], []
    for have, want in zip(volume.shape, target, strict=True):
        if have >= want:
            start = (have - want) // 2
            src.append(slice(start, start + want))
            dst.append(slice(0, want))
        else:
            start = (want - have) // 2
            src.append(slice(0, have))
            dst.append(slice(start, start + have))
    out[tuple(dst)] = volume[tuple(src)]
    return out


def apply_window(hu: np.ndarray, window: Window) -> np.ndarray:
    """HU to [0, 1] through the window (float32)."""
    low, high = window.bounds()
    return np.clip((np.asarray(hu, dtype=np.float32) - low) / (high - low), 0.0, 1.0)


class VolumeCache:
    """Writes resampled volumes (3d mode) or their slices (2d mode) and keeps HU statistics."""

    def __init__(self, cache: Path, capacity: int, options: VolumeOptions) -> None:
        depth, height, width = options.volume_shape
        self.mode = options.mode
        per_volume = depth if self.mode == "2d" else 1
        shape = (1, height, width) if self.mode == "2d" else (1, depth, height, width)
        # Whole HU in int16: exact enough for CT, half of float32, and fast to widen.
        self.writer = CacheWriter(cache, capacity * per_volume, shape, np.int16)
        self.histogram = np.zeros(64, dtype=np.int64)
        self.edges = np.linspace(*HISTOGRAM_RANGE, 65)
        self.out = Collected()
        self.series: list[dict[str, Any]] = []  # one entry per series: geometry and its warnings
        self.series_warnings = 0
        self.extra_stats: dict[str, Any] = {}  # what a reader adds to the statistics
        self._first_sample = 0  # index of the last added volume's (first) sample

    def add(self, volume: np.ndarray, name: str, label: str, group: str, meta: dict[str, Any]) -> None:
        volume = np.clip(volume, *HU_RANGE).round().astype(np.int16)
        self._first_sample = len(self.out.names)
        self.histogram += np.histogram(volume[:: max(1, volume.shape[0] // 8)], bins=self.edges)[0]
        if self.mode == "3d":
            self.writer.append(volume[None])
            self.out.add(name, label, group, meta)
            return
        for index, plane in enumerate(volume):
            self.writer.append(plane[None])
            self.out.add(f"{name} slice {index + 1}", label, group, {**meta, "slice": index})

    def add_series(self, entry: dict[str, Any]) -> None:
        """Record one series (``warnings`` among its keys) for the version's report, with the
        index of the sample last added (``add``): its volume, or its first slice in 2d mode."""
        entry = {"sample": self._first_sample, **entry}
        self.series_warnings += len(entry.get("warnings", []))
        if len(self.series) < MAX_SERIES_LISTED:
            self.series.append(entry)

    def finish(self, options: VolumeOptions, source_steps: list[str]) -> Collected:
        self.writer.close()
        low, high = options.window.bounds()
        layout = "N1HW" if self.mode == "2d" else "N1DHW"
        self.out.recipe = {
            "input": "ct", "layout": layout, "orientation": RAS, "dtype": "int16", "unit": "HU", "mode": self.mode,
            "volume_shape": list(options.volume_shape),
            "spacing": list(options.spacing) if options.spacing else None,
            "window": {**options.window.model_dump(), "low": low, "high": high},
            "steps": [*source_steps,
                      f"resampled (trilinear) to {'x'.join(map(str, options.volume_shape))}"
                      + (f" at {options.spacing} mm, centre crop/pad with air" if options.spacing else ""),
                      f"clipped to {HU_RANGE} HU", f"data loader: window [{low:g}, {high:g}] HU -> [0, 1]"],
        }
        self.out.stats = {"hu_histogram": {"counts": self.histogram.tolist(), "edges": self.edges.tolist()}}
        if self.series:
            self.out.stats.update(series=self.series, series_warnings=self.series_warnings)
        self.out.stats.update(self.extra_stats)
        return self.out
