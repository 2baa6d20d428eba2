"""What a CT series' geometry says before it becomes a volume, as warnings at the series: one
slice replicated, irregular positions resampled, missing slices, mixed or non-axial orientation,
gantry tilt. Each warning is ``{code, message}`` plus the positions it is about, where it has any."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

IRREGULAR_TOLERANCE = 0.1  # a gap more than 10% off the median gap (and 0.01 mm) is irregular
MISSING_FACTOR = 1.5  # a gap of 1.5 median gaps or more means slices are missing
ORIENTATION_TOLERANCE = 1e-3
TILT_DEGREES = 0.5
MAX_POSITIONS_SHOWN = 50

SeriesWarning = dict[str, Any]


def _mm(values: Sequence[float] | np.ndarray) -> list[float]:
    return [round(float(v), 2) + 0.0 for v in values]  # + 0.0: no "-0.0" in a message


def spacing_warnings(positions: Sequence[float]) -> tuple[list[SeriesWarning], bool]:
    """Warnings about the gaps between sorted slice positions, and whether they are irregular
    (then the volume is resampled onto a regular grid, see ``regular_grid``)."""
    if len(positions) < 3:
        return [], False
    gaps = np.diff(np.asarray(positions, dtype=np.float64))
    median = float(np.median(gaps))
    warnings: list[SeriesWarning] = []
    wide = [i for i, gap in enumerate(gaps) if gap >= MISSING_FACTOR * median]
    if wide:
        missing = int(sum(round(gaps[i] / median) - 1 for i in wide))
        where = "; ".join(f"{positions[i]:.2f} to {positions[i + 1]:.2f} mm" for i in wide[:5])
        warnings.append({"code": "missing_slices",
                         "message": f"about {missing} slice(s) missing at a median spacing of {median:.2f} mm "
                                    f"(gaps between {where}{'; …' if len(wide) > 5 else ''}); "
                                    "the gaps are interpolated",
                         "gaps_mm": [_mm([positions[i], positions[i + 1]]) for i in wide[:MAX_POSITIONS_SHOWN]]})
    irregular = bool(np.any(np.abs(gaps - median) > IRREGULAR_TOLERANCE * median + 0.01))
    if irregular:
        shown = _mm(positions[:MAX_POSITIONS_SHOWN])
        warnings.append({"code": "irregular_spacing",
                         "message": f"slice positions are irregular (gaps from {gaps.min():.2f} to {gaps.max():.2f} mm); "
                                    f"resampled to a regular grid at {median:.2f} mm. Positions: "
                                    + ", ".join(f"{p:g}" for p in shown) + (" …" if len(positions) > len(shown) else ""),
                         "positions_mm": shown})
    return warnings, irregular


def regular_grid(planes: np.ndarray, positions: Sequence[float], spacing: float,
                 max_slices: int) -> tuple[np.ndarray, float]:
    """(D, H, W) slices at sorted ``positions`` resampled linearly along the slice normal onto
    evenly spaced positions ``spacing`` apart (at most ``max_slices`` of them, then wider);
    returns the new volume and its spacing."""
    first, last = float(positions[0]), float(positions[-1])
    count = min(max(int(round((last - first) / spacing)) + 1, 2), max(max_slices, len(positions)))
    grid = np.linspace(first, last, count)
    where = np.asarray(positions, dtype=np.float64)
    index = np.clip(np.searchsorted(where, grid, side="right") - 1, 0, len(where) - 2)
    weight = ((grid - where[index]) / (where[index + 1] - where[index])).astype(np.float32)[:, None, None]
    volume = planes[index] * (1 - weight) + planes[index + 1] * weight
    return volume.astype(np.float32), (last - first) / (count - 1)


def orientation_warnings(orientations: Sequence[Sequence[float] | None], corners: Sequence[Sequence[float] | None],
                         tilts: Sequence[float]) -> list[SeriesWarning]:
    """Warnings about the slices' ImageOrientationPatient, the direction they are stacked in
    (ImagePositionPatient) and GantryDetectorTilt."""
    warnings: list[SeriesWarning] = []
    known = [np.asarray(o, dtype=np.float64) for o in orientations if o is not None and len(o) == 6]
    if known:
        distinct = [known[0]]
        for o in known[1:]:
            if all(np.abs(o - d).max() > ORIENTATION_TOLERANCE for d in distinct):
                distinct.append(o)
        if len(distinct) > 1:
            warnings.append({"code": "mixed_orientation",
                             "message": f"the slices have {len(distinct)} different orientations "
                                        "(ImageOrientationPatient); they are stacked along the most common one's normal"})
        normal = np.cross(known[0][:3], known[0][3:])
        axis = int(np.argmax(np.abs(normal)))
        if axis != 2:
            plane = "sagittal" if axis == 0 else "coronal"
            warnings.append({"code": "non_axial",
                             "message": f"the slices are {plane}, not axial (normal {_mm(normal)}); the volume is "
                                        "turned to the closest canonical (RAS) axes like every series"})
        points = [np.asarray(c, dtype=np.float64) for c in corners if c is not None and len(c) == 3]
        tilt = max((abs(t) for t in tilts), default=0.0)
        if len(points) >= 2 and np.linalg.norm(points[-1] - points[0]) > 0:
            step = (points[-1] - points[0]) / np.linalg.norm(points[-1] - points[0])
            cosine = min(1.0, abs(float(np.dot(step, normal / np.linalg.norm(normal)))))
            tilt = max(tilt, float(np.degrees(np.arccos(cosine))))
        if tilt > TILT_DEGREES:
            warnings.append({"code": "gantry_tilt",
                             "message": f"gantry tilt of {tilt:.1f}°: the slices are sheared along the stack; "
                                        "the shear is not corrected"})
    return warnings


def orientation_name(orientations: Sequence[Sequence[float] | None]) -> str:
    """The plane the slices are in, in words: 'axial', 'coronal', 'sagittal', with 'oblique ' before
    it when the normal is more than 1° off that axis, 'mixed' when the slices disagree, 'unknown'
    when no slice has ImageOrientationPatient."""
    known = [np.asarray(o, dtype=np.float64) for o in orientations if o is not None and len(o) == 6]
    if not known:
        return "unknown"
    if any(np.abs(o - known[0]).max() > ORIENTATION_TOLERANCE for o in known[1:]):
        return "mixed"
    normal = np.cross(known[0][:3], known[0][3:])
    normal = normal / (np.linalg.norm(normal) or 1.0)
    axis = int(np.argmax(np.abs(normal)))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if abs(normal[axis]) >= np.cos(np.radians(1.0)) else f"oblique {name}"


def single_slice_warning(depth: int) -> SeriesWarning:
    return {"code": "single_slice",
            "message": f"a single slice: it is replicated into {depth} identical slices to fill the volume"}
