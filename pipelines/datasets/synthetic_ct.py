"""A synthetic chest CT set written as real DICOM series with pydicom.

Each patient is one study with one axial series: air, a soft-tissue body, two lungs, a spine
and, for the ``pneumonia`` class, two to four patches of consolidation in ground glass in the
lungs, large enough that a small 3-D CNN learns them from a few dozen patients in a few epochs.
Pixels are stored as unsigned 16-bit with RescaleIntercept -1024, like most scanners. Slice files
are written in shuffled order so readers must sort by ImagePositionPatient.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

CLASSES = ("normal", "pneumonia")


def chest_volume(rng: np.random.Generator, slices: int, size: int, pneumonia: bool) -> np.ndarray:
    """A (slices, size, size) volume in HU, drawn from ``rng``."""
    z, y, x = np.meshgrid(np.linspace(-1, 1, slices), np.linspace(-1, 1, size), np.linspace(-1, 1, size),
                          indexing="ij")
    volume = np.full((slices, size, size), -1000.0)
    body = (x / 0.9) ** 2 + (y / 0.7) ** 2 < 1
    volume[body] = 40.0
    for side in (-1, 1):
        lung = ((x - side * 0.4) / 0.32) ** 2 + (y / 0.5) ** 2 + (z / 1.1) ** 2 < 1
        volume[lung] = -850.0
    spine = ((x / 0.12) ** 2 + ((y - 0.5) / 0.12) ** 2) < 1
    volume[spine] = 700.0
    if pneumonia:
        # Two to four patches centred in a lung: consolidation (soft-tissue density) in a halo of
        # ground glass, as in a multilobar pneumonia; a patch takes only lung, never the chest wall.
        lungs = volume < -500
        for _ in range(int(rng.integers(2, 5))):
            side = rng.choice((-1.0, 1.0))
            cx, cy, cz = side * 0.4 + rng.uniform(-0.12, 0.12), rng.uniform(-0.3, 0.3), rng.uniform(-0.6, 0.6)
            radius = rng.uniform(0.25, 0.4)
            distance = (x - cx) ** 2 + (y - cy) ** 2 + ((z - cz) * 0.6) ** 2
            volume[(distance < (1.5 * radius) ** 2) & lungs] = rng.uniform(-700.0, -450.0)
            volume[(distance < radius**2) & lungs] = rng.uniform(-150.0, 40.0)
    volume += rng.normal(0.0, 15.0, volume.shape)
    return volume


def write_series(folder: Path, volume: np.ndarray, *, patient_id: str, patient_name: str,
                 spacing: tuple[float, float, float], rng: np.random.Generator) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    order = rng.permutation(len(volume))
    paths = []
    for file_number, index in enumerate(order):
        stored = np.clip(volume[index] + 1024.0, 0, 4095).round().astype(np.uint16)
        path = folder / f"IM{file_number:04d}.dcm"
        _slice_dataset(path, stored, int(index), patient_id, patient_name, study, series, frame,
                       spacing).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _slice_dataset(path: Path, pixels: np.ndarray, index: int, patient_id: str, patient_name: str,
                   study: str, series: str, frame: str, spacing: tuple[float, float, float]) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName, ds.PatientID = "CT", patient_name, patient_id
    ds.PatientBirthDate, ds.StudyDate = "19700101", "20240101"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.SeriesNumber, ds.InstanceNumber = 1, index + 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, round(-index * spacing[0], 3)]  # feet-first: z decreases
    ds.SliceThickness = spacing[0]
    ds.PixelSpacing = [spacing[1], spacing[2]]
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.PixelData = pixels.tobytes()
    return ds


def write_chest_ct(folder: Path, *, patients: int = 12, slices: int = 24, size: int = 64,
                   seed: int = 0) -> list[Path]:
    """Write ``patients`` series as ``<class>/<patient>/IM####.dcm``; half of them pneumonia."""
    rng = np.random.default_rng(seed)
    written = []
    for number in range(patients):
        label = CLASSES[number % 2]
        volume = chest_volume(rng, slices, size, label == "pneumonia")
        written += write_series(folder / label / f"case{number:03d}", volume,
                                patient_id=f"SYN{number:05d}", patient_name=f"SYNTHETIC^PATIENT{number:03d}",
                                spacing=(2.5, 350.0 / size, 350.0 / size), rng=rng)
    return written
