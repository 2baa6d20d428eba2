"""De-identified copies of DICOM slices, by the DICOM PS3.15 basic profile as dicognito applies it.

dicognito replaces every element by its value representation (every PN, UI, DA, DT and the TM
beside a DA) and a list of identifying IDs (PatientID, AccessionNumber, StudyID, ...), so a
name or date in an element no list names is still replaced. UIDs are remapped consistently across
one ingest (one ``Anonymizer``), and dates are shifted by an offset drawn per patient (the
profile's "Retain Longitudinal Temporal Information with Modified Dates" option), so intervals
within a patient survive and dates cannot be lined up across patients. What the basic profile
removes and dicognito keeps is removed here: private elements, and free text (the LT, ST and UT
value representations, descriptions and comments).
"""
from __future__ import annotations

import hashlib
import secrets
from importlib.metadata import version

import pydicom
from dicognito.anonymizer import Anonymizer
from dicognito.datetimeanonymizer import DateTimeAnonymizer
from dicognito.element_anonymizer import ElementAnonymizer

FREE_TEXT_VRS = {"LT", "ST", "UT"}
MIN_SHIFT_HOURS, MAX_SHIFT_HOURS = 62 * 24, 730 * 24  # dicognito's own range, drawn per patient
PROFILE = (f"DICOM PS3.15 basic profile (dicognito {version('dicognito')}): names, IDs and UIDs replaced, "
           "UIDs remapped consistently, dates shifted per patient, private tags and free text removed")


class _PerPatientDates(ElementAnonymizer):
    """dicognito shifts every date of one Anonymizer by one offset; this draws one per patient."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.patient = ""
        self._shifters: dict[str, DateTimeAnonymizer] = {}

    def __call__(self, dataset: pydicom.Dataset, data_element: pydicom.DataElement) -> bool:
        shifter = self._shifters.get(self.patient)
        if shifter is None:
            digest = hashlib.sha256(f"{self.seed}:{self.patient}".encode()).digest()
            hours = int.from_bytes(digest[:8], "big") % (MAX_SHIFT_HOURS - MIN_SHIFT_HOURS) + MIN_SHIFT_HOURS
            shifter = self._shifters[self.patient] = DateTimeAnonymizer(-hours)
        return shifter(dataset, data_element)

    def describe_actions(self):  # type: ignore[no-untyped-def]
        yield "Shift all DA, DT (and matching TM) elements into the past by an offset drawn per patient"


class Deidentifier:
    """One per ingest: the same original UID always maps to the same new one within it; the seed
    is never stored, so the mapping cannot be undone afterwards."""

    def __init__(self) -> None:
        seed = secrets.token_hex(16)
        self._dates = _PerPatientDates(seed)
        self._anonymizer = Anonymizer(seed=seed)
        self._anonymizer.add_element_handler(self._dates)

    def __call__(self, dataset: pydicom.Dataset, patient: str) -> pydicom.Dataset:
        """De-identify ``dataset`` in place; ``patient`` is the original PatientID (or another
        key that groups a patient's slices), used only to pick the patient's date shift."""
        dataset.remove_private_tags()
        for element in list(dataset.iterall()):
            keyword = element.keyword or ""
            if element.VR in FREE_TEXT_VRS or keyword.endswith(("Description", "Comments")):
                _delete(dataset, element.tag)
        self._dates.patient = patient
        self._anonymizer.anonymize(dataset)
        return dataset


def _delete(dataset: pydicom.Dataset, tag: pydicom.tag.BaseTag) -> None:
    """Remove ``tag`` wherever it sits (top level or inside a sequence item)."""
    if tag in dataset:
        del dataset[tag]
        return
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _delete(item, tag)
