"""One voxel layout for every CT volume, whatever the file it came from: the closest canonical
(RAS) axes, as nibabel's ``as_closest_canonical`` gives a NIfTI volume. In the cache's (D, H, W)
order: the column index grows towards the patient's Right, the row index towards Anterior, the
slice index towards Superior.

A DICOM series is brought there from its own geometry: ImageOrientationPatient gives the row and
column directions in LPS, their cross product the slice normal (slices are stacked in increasing
position along it, ``dicom.order_series``); nibabel's ``io_orientation`` finds the closest axes and
``apply_orientation`` flips and permutes the voxels, exactly as for a NIfTI volume.

Datasets ingested before this layout was recorded kept a DICOM series' slices as stored
(``STORED``); a model trained on one is served in that layout (``layout_of``), so it keeps
answering as it was trained.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

RAS = "RAS"  # the layout every new CT ingest records (recipe["orientation"])
STORED = "dicom_stored"  # before: a DICOM series' rows and columns as stored, slices bottom to top
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # ImageOrientationPatient of a plain axial slice (and the default)
STEP = "turned to the closest canonical (RAS) axes: columns to the patient's right, rows to anterior, " \
       "slices to superior (NIfTI by its affine, DICOM by ImageOrientationPatient)"


def layout_of(recipe: dict[str, Any]) -> str:
    """The layout a model's recipe was ingested in: what it records, else (a recipe from before it
    was recorded) the DICOM series' stored layout for a model trained on DICOM, RAS for NIfTI."""
    recorded = recipe.get("orientation")
    if recorded:
        return str(recorded)
    steps = [str(s) for s in recipe.get("steps") or []]
    from_dicom = recipe.get("kind") == "ct_dicom" or any(s.startswith("slices ordered by position") for s in steps)
    return STORED if from_dicom else RAS


def dicom_ornt(orientation: Sequence[float] | None) -> np.ndarray:
    """The nibabel orientation (closest RAS axes) of a series' (column, row, slice) voxel axes,
    from its ImageOrientationPatient (a plain axial slice when it has none)."""
    values = np.asarray(orientation if orientation is not None and len(orientation) == 6 else AXIAL, dtype=float)
    along_row, along_column = values[:3], values[3:]
    directions = np.stack([along_row, along_column, np.cross(along_row, along_column)], axis=1)
    affine = np.eye(4)
    affine[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ directions  # LPS (DICOM) to RAS (NIfTI)
    return io_orientation(affine)


def series_orientation(orientations: Sequence[Sequence[float] | None]) -> tuple[float, ...] | None:
    """The most common ImageOrientationPatient of a series' slices (the one it is stacked along)."""
    found = Counter(tuple(o) for o in orientations if o is not None)
    return found.most_common(1)[0][0] if found else None


def reorient(volume: np.ndarray, spacing: tuple[float, float, float],
             ornt: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A (D, H, W) volume (or label mask) and its (z, y, x) spacing with nibabel's ``ornt`` applied
    to its (x, y, z) axes, as a NIfTI volume is turned."""
    xyz = apply_orientation(np.asarray(volume).transpose(2, 1, 0), ornt)
    return np.ascontiguousarray(xyz.transpose(2, 1, 0)), reoriented_grid(volume.shape, spacing, ornt)[1]


def reoriented_grid(shape: Sequence[int], spacing: tuple[float, float, float],
                    ornt: np.ndarray) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """The (D, H, W) shape and (z, y, x) spacing of a grid after ``reorient`` with ``ornt``."""
    old = ((shape[2], spacing[2]), (shape[1], spacing[1]), (shape[0], spacing[0]))  # x, y, z
    new: list[tuple[int, float]] = [(0, 0.0)] * 3
    for axis, (target, _flip) in enumerate(ornt):
        new[int(target)] = old[axis]
    return (int(new[2][0]), int(new[1][0]), int(new[0][0])), (new[2][1], new[1][1], new[0][1])


def dicom_to_ras(volume: np.ndarray, spacing: tuple[float, float, float],
                 orientation: Sequence[float] | None) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A DICOM series' stack ((slices, rows, columns), slices in increasing position along the
    normal) on the RAS layout a NIfTI volume is read in."""
    return reorient(volume, spacing, dicom_ornt(orientation))


def ras_to_layout(layout: str) -> np.ndarray:
    """The orientation that takes a RAS volume to ``layout``: the identity for RAS; for the old
    DICOM layout, a plain axial series as stored (columns to the left, rows to posterior)."""
    if layout == STORED:
        return ornt_transform(axcodes2ornt(RAS), dicom_ornt(AXIAL))
    return ornt_transform(axcodes2ornt(RAS), axcodes2ornt(layout))


def layout_to_ras(layout: str) -> np.ndarray:
    """The inverse of ``ras_to_layout``: a volume (or a predicted mask) in ``layout`` back to RAS."""
    if layout == STORED:
        return dicom_ornt(AXIAL)
    return ornt_transform(axcodes2ornt(layout), axcodes2ornt(RAS))
