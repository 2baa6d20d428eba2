"""A synthetic chest CT set written as real DICOM series with pydicom, with lesion masks as NIfTI.

Each patient is one study with one axial series (anatomy, confounders and lesions: see
``synthetic_ct_anatomy``); only ``pneumonia`` patients have lesions, so they are the only class
signal. Scanners differ per patient: pixel spacing (0.6-0.9 mm at a 512 matrix, binned to the
written one), slice thickness (1-5 mm, scaled when a slice count is asked for), noise, patient
position, and how pixels are stored (``STORAGE``: unsigned or signed 16-bit, RescaleIntercept
-1024, 0 or -512, RescaleSlope 1, 0.5 or 0.25; signed ones pad outside the reconstruction circle
with -3024 HU as some scanners do). Headers carry realistic UIDs and dates and fake patient data
(name, ID, birth date, accession number, referring physician) for the ingest's de-identification
to remove. Slice files are written in shuffled order so readers must sort by ImagePositionPatient.

Everything of patient ``i`` is drawn from ``numpy.random.default_rng([seed, i])`` and its UIDs
from ``generate_uid`` with that seed as entropy, so a patient does not depend on how many others
are written.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

from .synthetic_ct_anatomy import Patient, draw_patient, render

CLASSES = ("normal", "pneumonia")
MASK_NAME = "lesion_mask.nii.gz"
PADDING_HU = -3024.0  # outside the reconstruction circle, for the signed storages


@dataclass(frozen=True)
class Storage:
    signed: bool
    slope: float
    intercept: float

    def stored(self, hu: np.ndarray) -> np.ndarray:
        """HU to the stored integers (the inverse of ``stored * slope + intercept``)."""
        raw = np.round((hu - self.intercept) / self.slope)
        if self.signed:
            return np.clip(raw, -32768, 32767).astype(np.int16)
        return np.clip(raw, 0, 65535).astype(np.uint16)


STORAGE = (Storage(False, 1.0, -1024.0), Storage(True, 1.0, 0.0), Storage(False, 0.5, -1024.0),
           Storage(True, 0.25, -512.0))
FIRST_NAMES = ("Archibald", "Beatrix", "Cornelius", "Dorothea", "Evander", "Philippa", "Gideon", "Henrietta",
               "Ignatius", "Josephine", "Leopold", "Marguerite", "Octavia", "Percival", "Rosalind", "Thaddeus")
LAST_NAMES = ("Abernathy", "Blackwood", "Castellano", "Drummond", "Esterhazy", "Fairweather", "Greenhalgh",
              "Holloway", "Isherwood", "Jablonski", "Kowalczyk", "Lindqvist", "Montgomery", "Nakashima",
              "Oyelaran", "Pemberton")


@dataclass(frozen=True)
class Identity:
    """The fake patient data of one series: all of it must be gone after de-identification."""

    name: str
    patient_id: str
    birth_date: str
    accession: str
    study_date: str
    physician: str

    def secrets(self) -> list[str]:
        return [self.name, self.patient_id, self.birth_date, self.accession, self.physician]


def fake_identity(rng: np.random.Generator, number: int) -> Identity:
    study = datetime.date(2019, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 6 * 365)))
    birth = study - datetime.timedelta(days=int(rng.integers(18 * 365, 90 * 365)))
    return Identity(
        name=f"{rng.choice(LAST_NAMES)}^{rng.choice(FIRST_NAMES)}^{chr(65 + int(rng.integers(26)))}",
        patient_id=f"MRN{int(rng.integers(100, 999))}{number:05d}", birth_date=birth.strftime("%Y%m%d"),
        accession=f"ACC{int(rng.integers(10**7, 10**8))}", study_date=study.strftime("%Y%m%d"),
        physician=f"{rng.choice(LAST_NAMES)}^{rng.choice(FIRST_NAMES)}^^Dr")


def chest_volume(rng: np.random.Generator, slices: int, size: int, pneumonia: bool) -> np.ndarray:
    """A (slices, size, size) volume in HU drawn from ``rng`` (slice 0 at the top)."""
    patient = draw_patient(rng, pneumonia, size, None)
    patient.slices = slices
    patient.thickness_mm = (2 * patient.lung_half[2] + 45.0) / slices
    return render(patient)[0]


def write_series(folder: Path, volume: np.ndarray, *, patient_id: str, patient_name: str,
                 spacing: tuple[float, float, float], rng: np.random.Generator,
                 storage: Storage = STORAGE[0], identity: Identity | None = None,
                 entropy: list[str] | None = None, origin: tuple[float, float, float] | None = None) -> list[Path]:
    """Write ``volume`` (HU, slice 0 at the top) as one series of ``IM####.dcm`` in ``folder``.
    ``spacing`` is (slice, row, column) in mm; ``entropy`` makes the UIDs reproducible."""
    folder.mkdir(parents=True, exist_ok=True)
    identity = identity or Identity(patient_name, patient_id, "19700101", "", "20240101", "")
    study, series, frame = (_uid(entropy, kind) for kind in ("study", "series", "frame"))
    rows, cols = volume.shape[1:]
    if origin is None:
        origin = (-(cols - 1) / 2 * spacing[2], -(rows - 1) / 2 * spacing[1], 0.0)
    outside = _outside_circle(rows, cols) if storage.signed else None
    order = rng.permutation(len(volume))
    paths = []
    for file_number, index in enumerate(order):
        plane = volume[index]
        if outside is not None:
            plane = np.where(outside, PADDING_HU, plane)
        path = folder / f"IM{file_number:04d}.dcm"
        ds = _slice_dataset(path, storage.stored(plane), storage, int(index), identity,
                            (study, series, frame, _uid(entropy, f"sop{index}")), spacing, origin)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _uid(entropy: list[str] | None, kind: str) -> str:
    return generate_uid(entropy_srcs=[*entropy, kind]) if entropy is not None else generate_uid()


def _outside_circle(rows: int, cols: int) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:cols]
    return ((y - (rows - 1) / 2) / (rows / 2)) ** 2 + ((x - (cols - 1) / 2) / (cols / 2)) ** 2 > 1.0


def _slice_dataset(path: Path, pixels: np.ndarray, storage: Storage, index: int, identity: Identity,
                   uids: tuple[str, str, str, str], spacing: tuple[float, float, float],
                   origin: tuple[float, float, float]) -> FileDataset:
    study, series, frame, sop = uids
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
    ds.Modality, ds.Manufacturer, ds.ImageType = "CT", "SYNTHETIC", ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = identity.name, identity.patient_id, identity.birth_date
    ds.AccessionNumber, ds.ReferringPhysicianName = identity.accession, identity.physician
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = identity.study_date
    ds.StudyTime = ds.SeriesTime = "101500"
    ds.StudyDescription, ds.SeriesDescription = "CT CHEST WITHOUT CONTRAST", "AXIAL LUNG"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, index + 1
    ds.PatientPosition = "FFS"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    # Feet-first: z decreases with the index; slice 0 is the top of the scan.
    ds.ImagePositionPatient = [round(origin[0], 3), round(origin[1], 3), round(origin[2] - index * spacing[0], 3)]
    ds.SliceLocation = ds.ImagePositionPatient[2]
    ds.SliceThickness = round(spacing[0], 4)
    ds.PixelSpacing = [round(spacing[1], 4), round(spacing[2], 4)]
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if storage.signed else 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = storage.intercept, storage.slope, "HU"
    ds.PixelData = pixels.tobytes()
    return ds


def write_mask(path: Path, mask: np.ndarray, spacing: tuple[float, float, float],
               origin: tuple[float, float, float]) -> Path:
    """``mask`` (slices, rows, columns), aligned with the series, as NIfTI in RAS: voxel (i, j, k)
    is column i, row j, slice k, at the same place in the patient as that DICOM pixel."""
    import nibabel

    dz, dr, dc = spacing
    affine = np.array([[-dc, 0, 0, -origin[0]], [0, -dr, 0, -origin[1]], [0, 0, -dz, origin[2]], [0, 0, 0, 1]])
    image = nibabel.Nifti1Image(np.ascontiguousarray(mask.transpose(2, 1, 0)).astype(np.uint8), affine)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, path)
    return path


@dataclass
class WrittenPatient:
    folder: Path
    label: str
    patient: Patient
    identity: Identity
    storage: Storage
    files: list[Path]
    mask: Path


def write_patient(folder: Path, number: int, *, slices: int | None, size: int, seed: int) -> WrittenPatient:
    """Patient ``number`` of the set ``seed``: its series in ``<label>/case<number>/`` under
    ``folder`` and its lesion mask beside the slices (``MASK_NAME``)."""
    label = CLASSES[number % 2]
    rng = np.random.default_rng([seed, number])
    patient = draw_patient(rng, label == "pneumonia", size, slices)
    volume, mask = render(patient)
    identity = fake_identity(rng, number)
    storage = STORAGE[int(rng.integers(len(STORAGE)))]
    spacing = (patient.thickness_mm, patient.pixel_mm, patient.pixel_mm)
    table = float(rng.uniform(-180.0, -120.0))  # the table's height shifts every position
    origin = (-(size - 1) / 2 * patient.pixel_mm, table, round(patient.z_top + float(rng.uniform(-300, -200)), 2))
    case = folder / label / f"case{number:03d}"
    files = write_series(case, volume, patient_id=identity.patient_id, patient_name=identity.name,
                         spacing=spacing, rng=rng, storage=storage, identity=identity,
                         entropy=[str(seed), str(number)], origin=origin)
    return WrittenPatient(case, label, patient, identity, storage, files,
                          write_mask(case / MASK_NAME, mask, spacing, origin))


def write_chest_ct(folder: Path, *, patients: int = 12, slices: int | None = 24, size: int = 64,
                   seed: int = 0) -> list[Path]:
    """Write ``patients`` series as ``<class>/case###/IM####.dcm`` (half of them pneumonia) with
    ``case###/lesion_mask.nii.gz`` beside; returns the DICOM files. ``slices``: the count a
    2.5 mm scan gets (thinner scans more, thicker fewer); None: the scanner's own, 1-5 mm."""
    written: list[Path] = []
    for number in range(patients):
        written += write_patient(folder, number, slices=slices, size=size, seed=seed).files
    return written
