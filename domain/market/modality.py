"""One list of modalities for the market, named as datasets name their inputs (a recipe's
``input``): whatever a template, a seeded model, a run's dataset or an imported bundle calls it,
an entry stores one of these, so the market's filter offers each kind of data once."""
from __future__ import annotations

from domain.projects.services import DomainError

MODALITIES = ("image", "ct", "table", "text")
# Other names for the same data, from templates ("volume", "tabular"), dataset kinds and older
# installations' bundles.
ALIASES = {"images": "image", "segmentation": "image", "volume": "ct", "ct_dicom": "ct", "ct_nifti": "ct",
           "dicom": "ct", "nifti": "ct", "tabular": "table", "tables": "table", "csv": "table"}


def normalise(value: object) -> str:
    """The modality ``value`` names, or ``""`` when it is blank or not a known name."""
    name = str(value or "").strip().lower()
    name = ALIASES.get(name, name)
    return name if name in MODALITIES else ""


def checked(value: object, field: str = "modality") -> str:
    """``value`` as one of ``MODALITIES`` (blank stays blank); raises ``DomainError`` naming
    ``field`` for anything else."""
    if not str(value or "").strip():
        return ""
    name = normalise(value)
    if not name:
        raise DomainError(field, f"unknown modality {value!r}; choose one of {', '.join(MODALITIES)}")
    return name
