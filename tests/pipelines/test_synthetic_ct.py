"""The synthetic chest CT generator: valid DICOM whose stored pixels, slopes, intercepts and
signedness give the intended HU; lesion masks that sit on the lesions; fake patient data that the
ingest removes; patients that depend only on the seed; and no single global statistic that tells
the classes apart."""
from __future__ import annotations

import zipfile
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest

from pipelines.datasets.ingest import ORIGINALS, ingest
from pipelines.datasets.synthetic_ct import STORAGE, Storage, write_chest_ct, write_patient
from pipelines.datasets.synthetic_ct_anatomy import render

SIZE, SLICES = 32, 8


def _read_hu(files: list[Path]) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    """The series in HU, top slice first, as a reader that knows nothing of the generator would."""
    datasets = sorted((pydicom.dcmread(f) for f in files), key=lambda ds: -float(ds.ImagePositionPatient[2]))
    hu = np.stack([ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                   for ds in datasets])
    return hu, datasets


@pytest.mark.parametrize("storage", STORAGE, ids=lambda s: f"{'int' if s.signed else 'uint'}16-slope{s.slope:g}"
                         f"-intercept{s.intercept:g}")
def test_each_storage_gives_the_intended_hounsfield_units(tmp_path: Path, storage: Storage) -> None:
    written = write_patient(tmp_path, 1, slices=SLICES, size=SIZE, seed=3)
    intended, _ = render(written.patient)
    from pipelines.datasets.synthetic_ct import write_series

    files = write_series(tmp_path / "again", intended, patient_id="P", patient_name="A^B",
                         spacing=(5.0, 2.0, 2.0), rng=np.random.default_rng(0), storage=storage)
    hu, datasets = _read_hu(files)
    assert datasets[0].PixelRepresentation == int(storage.signed)
    assert datasets[0].pixel_array.dtype == (np.int16 if storage.signed else np.uint16)
    assert (float(datasets[0].RescaleSlope), float(datasets[0].RescaleIntercept)) == (storage.slope, storage.intercept)
    # Exact to half a stored step wherever the HU is representable; signed storages pad the
    # corners outside the reconstruction circle with -3024 HU, unsigned ones clip air at their floor.
    floor = storage.intercept if not storage.signed else -3024.0
    centre = np.s_[:, SIZE // 4: 3 * SIZE // 4, SIZE // 4: 3 * SIZE // 4]
    representable = intended[centre] > floor
    assert np.abs(hu[centre] - intended[centre])[representable].max() <= storage.slope / 2 + 1e-3
    if storage.signed:
        assert hu[:, 0, 0].max() == -3024.0


def test_the_set_mixes_storages_and_geometries(tmp_path: Path) -> None:
    patients = [write_patient(tmp_path, n, slices=SLICES, size=SIZE, seed=0) for n in range(12)]
    assert {p.storage for p in patients} >= {STORAGE[0], STORAGE[1]}
    assert len({round(p.patient.thickness_mm, 2) for p in patients}) == 12
    first = pydicom.dcmread(patients[0].files[0])
    assert pydicom.uid.UID(first.SOPInstanceUID).is_valid and first.StudyDate.startswith("20")
    for p in patients:
        hu, datasets = _read_hu(p.files)
        pixel = float(datasets[0].PixelSpacing[0])
        assert 0.6 <= pixel * SIZE / 512 <= 0.9  # the scanner's spacing, binned to the written matrix
        positions = [float(ds.ImagePositionPatient[2]) for ds in datasets]
        assert np.allclose(-np.diff(positions), float(datasets[0].SliceThickness), atol=1e-3)
        assert hu.max() > 300 and (hu < -950).any()  # bone, air


def test_mask_is_aligned_with_the_lesions(tmp_path: Path) -> None:
    written = write_patient(tmp_path, 1, slices=16, size=48, seed=5)  # odd numbers have pneumonia
    assert written.label == "pneumonia" and written.mask.parent == written.folder
    image = nibabel.load(written.mask)
    mask = np.asarray(image.dataobj).transpose(2, 1, 0)
    hu, datasets = _read_hu(written.files)
    assert mask.shape == hu.shape and mask.sum() > 0
    # Voxel (i, j, k) of the NIfTI is where the DICOM puts column i, row j of slice k.
    k, j, i = (int(v) for v in np.argwhere(mask)[0])
    ds = datasets[k]
    lps = np.array([float(v) for v in ds.ImagePositionPatient]) + [i * float(ds.PixelSpacing[1]),
                                                                   j * float(ds.PixelSpacing[0]), 0.0]
    ras = image.affine @ [i, j, k, 1]
    assert np.allclose(ras[:3], lps * [-1, -1, 1], atol=1e-3)
    # The masked voxels are denser than the lung around them, every lesion's centre is masked.
    lung = hu[(hu > -980) & (hu < -650) & (mask == 0)]
    assert np.median(hu[mask == 1]) > np.median(lung) + 150
    normal = write_patient(tmp_path, 0, slices=16, size=48, seed=5)
    assert np.asarray(nibabel.load(normal.mask).dataobj).sum() == 0


def test_a_patient_depends_only_on_the_seed_and_its_number(tmp_path: Path) -> None:
    one = write_patient(tmp_path / "a", 3, slices=SLICES, size=SIZE, seed=7)
    write_chest_ct(tmp_path / "b", patients=5, slices=SLICES, size=SIZE, seed=7)
    other_seed = write_patient(tmp_path / "c", 3, slices=SLICES, size=SIZE, seed=8)
    again = sorted((tmp_path / "b" / one.label / "case003").glob("*.dcm"))
    assert [f.read_bytes() for f in sorted(one.files)] == [f.read_bytes() for f in again]
    assert (tmp_path / "b" / one.label / "case003" / one.mask.name).read_bytes() == one.mask.read_bytes()
    assert pydicom.dcmread(other_seed.files[0]).PatientID != pydicom.dcmread(one.files[0]).PatientID


def test_fake_patient_data_is_in_the_files_and_gone_after_ingest(tmp_path: Path, work: Path) -> None:
    patients = [write_patient(tmp_path / "src", n, slices=4, size=16, seed=1) for n in range(4)]
    secrets = [s.encode() for p in patients for s in p.identity.secrets()]
    sources = b"".join(f.read_bytes() for p in patients for f in p.files)
    assert all(secret in sources for secret in secrets)
    archive = tmp_path / "ct.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for p in patients:
            for f in p.files:
                zf.write(f, f.relative_to(tmp_path / "src").as_posix())
    result = ingest("ct_dicom", archive, "ct.zip", work, {"volume_shape": [4, 8, 8], "val_fraction": 0.25,
                                                          "test_fraction": 0.25}, keep_deidentified=True)
    assert len(result.samples) == 4
    left = [repr(result.samples).encode(), repr(result.stats).encode(), repr(result.recipe).encode()]
    left += [f.read_bytes() for f in work.rglob("*") if f.is_file()]
    assert any((work / ORIGINALS).rglob("*.dcm"))
    for secret in secrets:
        assert not any(secret in blob for blob in left), secret


def test_mean_hounsfield_units_do_not_separate_the_classes(tmp_path: Path) -> None:
    """Forty small patients: the best threshold on the mean HU of the volume, or of its lung-dense
    voxels, stays far from perfect (the old generator's classes were split by mean HU alone)."""
    volume_means, lung_means, labels = [], [], []
    for number in range(40):
        written = write_patient(tmp_path, number, slices=6, size=24, seed=11)
        hu, _ = _read_hu(written.files)
        volume_means.append(hu.mean())
        lung_means.append(hu[(hu > -950) & (hu < -200)].mean())
        labels.append(int(written.label == "pneumonia"))
        for f in written.files:
            f.unlink()
    for values in (volume_means, lung_means):
        assert _best_threshold_accuracy(np.array(values), np.array(labels)) <= 0.8


def _best_threshold_accuracy(values: np.ndarray, labels: np.ndarray) -> float:
    """The best accuracy of ``value > t`` or ``value < t`` over every threshold t."""
    ordered = labels[np.argsort(values)]
    best = 0.0
    for k in range(len(ordered) + 1):
        above = (k - ordered[:k].sum()) + ordered[k:].sum()  # normal below, pneumonia above
        best = max(best, above / len(ordered), 1 - above / len(ordered))
    return float(best)
