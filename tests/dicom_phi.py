"""DICOM series made from pydicom's bundled CT slice (``CT_small.dcm``), carrying patient data
(name, ID, birth date, accession number) and the geometry the series warnings are about."""
from __future__ import annotations

import copy
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid


@dataclass
class Patient:
    name: str
    patient_id: str
    birth_date: str
    accession: str
    label: str
    positions: list[float] = field(default_factory=lambda: [0.0, 2.5, 5.0, 7.5])
    orientation: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    tilt: float = 0.0

    def secrets(self) -> list[bytes]:
        return [s.encode() for s in (self.name, self.patient_id, self.birth_date, self.accession)]


def patients(count: int, tag: str = "Q") -> list[Patient]:
    """``count`` patients with distinctive identifiers (``tag`` keeps them apart between tests)."""
    return [Patient(name=f"Doe{tag}^Archibald{i:02d}", patient_id=f"MRN{tag}{7340 + i}",
                    birth_date=f"19{37 + i:02d}0{1 + i % 9}1{i % 10}", accession=f"ACC{tag}{90210 + i}",
                    label="pneumonia" if i % 2 else "normal") for i in range(count)]


def series_zip(path: Path, people: list[Patient]) -> Path:
    """One series per patient, slices at ``positions`` along the normal, in class folders."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    # Stored, not deflated: the identifiers stay readable bytes in the archive, so a search for
    # them in what an ingest leaves behind would find the archive itself.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number, person in enumerate(people):
            study, series = generate_uid(), generate_uid()
            for index, z in enumerate(person.positions):
                ds = copy.deepcopy(template)
                ds.PatientName, ds.PatientID = person.name, person.patient_id
                ds.PatientBirthDate, ds.AccessionNumber = person.birth_date, person.accession
                ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.InstanceNumber = index + 1
                ds.ImageOrientationPatient = person.orientation
                row, col = person.orientation[:3], person.orientation[3:]
                normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                          row[0] * col[1] - row[1] * col[0]]
                shear = z * 0.2 if person.tilt else 0.0
                ds.ImagePositionPatient = [n * z + (shear if k == 1 else 0.0) for k, n in enumerate(normal)]
                ds.GantryDetectorTilt = person.tilt
                buffer = path.parent / f"_slice_{number}_{index}.dcm"
                ds.save_as(buffer)
                archive.write(buffer, f"scans/{person.label}/case{number:02d}/slice{index:02d}.dcm")
                buffer.unlink()
    return path
