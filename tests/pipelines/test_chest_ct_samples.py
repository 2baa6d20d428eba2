"""The chest CT samples through the real ingest with their catalogue options: ``chest_ct`` is a
classification set of its class folders, ``chest_ct_lesions`` the same series with the lesion mask
beside each one, a segmentation set of background and lesion (fewer patients than the samples'
200, same geometry)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipelines.datasets.ingest import ingest
from pipelines.datasets.samples import SAMPLES, write_chest_ct_zip
from pipelines.datasets.synthetic_ct import MASK_NAME

PATIENTS = 6


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    return {"chest_ct": write_chest_ct_zip(folder / "plain", patients=PATIENTS),
            "chest_ct_lesions": write_chest_ct_zip(folder / "lesions", patients=PATIENTS, masks=True)}


def test_both_samples_hold_the_same_series_and_only_the_lesion_sample_its_masks(zips: dict[str, Path]) -> None:
    names = {key: set(zipfile.ZipFile(path).namelist()) for key, path in zips.items()}
    slices = {n for n in names["chest_ct"] if n.endswith(".dcm")}
    assert names["chest_ct"] == slices and len({n.rsplit("/", 1)[0] for n in slices}) == PATIENTS
    masks = {f"{n.rsplit('/', 1)[0]}/{MASK_NAME}" for n in slices}
    assert names["chest_ct_lesions"] == slices | masks | {"classes.json"}
    with zipfile.ZipFile(zips["chest_ct"]) as plain, zipfile.ZipFile(zips["chest_ct_lesions"]) as lesions:
        first = sorted(slices)[0]
        assert plain.read(first) == lesions.read(first)


def test_the_chest_ct_sample_is_a_classification_set(zips: dict[str, Path], tmp_path: Path) -> None:
    spec = SAMPLES["chest_ct"]
    result = ingest("ct_dicom", zips["chest_ct"], "chest_ct.zip", tmp_path, dict(spec["options"]))  # type: ignore[call-overload]
    assert (result.task, result.classes, result.skipped) == ("classification", ["normal", "pneumonia"], [])
    assert sorted(s["label"] for s in result.samples) == ["normal"] * 3 + ["pneumonia"] * 3
    assert result.recipe["volume_shape"] == spec["options"]["volume_shape"]  # type: ignore[index]


def test_the_lesion_sample_is_a_segmentation_set_of_background_and_lesion(zips: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    spec = SAMPLES["chest_ct_lesions"]
    assert spec["kind"] == "ct_dicom" and spec["options"] == SAMPLES["chest_ct"]["options"]
    result = ingest("ct_dicom", zips["chest_ct_lesions"], "chest_ct_lesions.zip", tmp_path,
                    dict(spec["options"]))  # type: ignore[call-overload]
    assert (result.task, result.classes, result.skipped) == ("segmentation", ["background", "lesion"], [])
    masks = np.load(tmp_path / "cache" / "masks.npy")
    assert masks.shape == (PATIENTS, *spec["options"]["volume_shape"])  # type: ignore[index]
    # Only the pneumonia half of the patients has lesions.
    lesioned = {i for i in range(PATIENTS) if np.any(masks[i] == 1)}
    assert len(lesioned) == PATIENTS // 2, lesioned
    assert result.stats["class_presence"] == {"background": PATIENTS, "lesion": PATIENTS // 2}

