"""Small CT series for the dataset page's tests: pydicom's bundled CT slices as they are, and
series made from ``CT_small.dcm`` with the geometry each series warning is about."""
from __future__ import annotations

import copy
import io
import zipfile

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
# pydicom's CT files: a 128 x 128 slice (kVp 120), a 512 x 512 JPEG 2000 one (kVp 140), and a
# JPEG 2000 one tilted 22° (GantryDetectorTilt, rows out of the axial plane).
BUNDLED = ("CT_small.dcm", "693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm")


def write_bundled(archive: zipfile.ZipFile, folder: str, name: str) -> None:
    """One of pydicom's bundled CT files, as it is, as a series of its own."""
    archive.write(get_testdata_file(name), f"{folder}/{name}")  # type: ignore[arg-type]


def write_series(archive: zipfile.ZipFile, folder: str, positions: list[float],
                 orientations: list[list[float]] | None = None, kvp: float = 120.0, shift: int = 0) -> None:
    """One series of CT_small slices at ``positions`` along the first slice's normal (each slice
    in its own orientation from ``orientations``); with ``shift``, slice n is rolled n x shift
    pixels sideways, so that slices differ."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    pixels = template.pixel_array
    study, series = generate_uid(), generate_uid()
    first = (orientations or [AXIAL])[0]
    normal = np.cross(first[:3], first[3:])
    for index, z in enumerate(positions):
        ds = copy.deepcopy(template)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = study, series, f"P-{folder}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber, ds.KVP = index + 1, kvp
        ds.ImageOrientationPatient = (orientations or [AXIAL] * len(positions))[index]
        ds.ImagePositionPatient = [float(v) for v in normal * z]
        if shift:
            ds.PixelData = np.roll(pixels, index * shift, axis=1).astype(pixels.dtype).tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer)
        archive.writestr(f"{folder}/slice{index:02d}.dcm", buffer.getvalue())
