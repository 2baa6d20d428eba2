"""Uploads (tus 1.0.0) and datasets through the API; ingest itself is in tests/integration."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from domain.datasets.models import DatasetVersion, Upload
from domain.projects.services import add_member, create_project

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATASET_UPLOAD_STAGING_DIR = tmp_path / "staging"
    settings.DATASETS_ROOT = tmp_path / "datasets"


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(api: Any, length: int, filename: str = "data.zip") -> Any:
    return api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH=str(length), HTTP_UPLOAD_METADATA=meta(filename=filename), **TUS)


def patch(api: Any, url: str, offset: int, body: bytes, **extra: Any) -> Any:
    return api.generic("PATCH", url, body, content_type=extra.pop("content_type", OCTETS),
                       HTTP_UPLOAD_OFFSET=str(offset), **TUS, **extra)


def upload(api: Any, data: bytes, filename: str = "data.zip", chunk: int = 7) -> str:
    url = create(api, len(data), filename)["Location"]
    for start in range(0, len(data), chunk):
        assert patch(api, url, start, data[start : start + chunk]).status_code == 204
    return url


# ---- tus -------------------------------------------------------------------------------------
def test_options_advertises_the_protocol(api: Any) -> None:
    response = api.options("/api/v1/uploads/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0" and response["Tus-Extension"] == "creation,termination,expiration"
    assert int(response["Tus-Max-Size"]) > 0


def test_chunked_upload_resumes_and_lands_in_storage(api: Any) -> None:
    data = bytes(range(256)) * 3
    created = create(api, len(data), "../../etc/My Data.zip")
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    url = created["Location"]
    assert patch(api, url, 0, data[:100]).status_code == 204
    head = api.head(url, **TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == "100" and head["Upload-Length"] == str(len(data))
    assert head["Cache-Control"] == "no-store"
    # A client that lost the answer resends from the wrong offset: 409, and nothing changes.
    assert patch(api, url, 50, data[50:150]).status_code == 409
    done = patch(api, url, 100, data[100:])
    assert done.status_code == 204 and done["Upload-Offset"] == str(len(data))
    record = Upload.objects.get()
    assert record.status == "complete" and record.filename == "My_Data.zip"
    with default_storage.open(record.storage_name, "rb") as fh:
        assert fh.read() == data
    assert api.get(url).json()["status"] == "complete"


def test_protocol_errors(api: Any) -> None:
    url = create(api, 10)["Location"]
    assert api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="10").status_code == 412
    assert api.post("/api/v1/uploads/", **TUS).status_code == 400
    assert api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="-5", **TUS).status_code == 400
    assert api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="0", **TUS).status_code == 400
    bad_meta = api.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA="filename %%%", **TUS)
    assert bad_meta.status_code == 400 and "Upload-Metadata" in bad_meta.json()["detail"]
    assert patch(api, url, 0, b"abc", content_type="application/json").status_code == 415
    assert api.generic("PATCH", url, b"abc", content_type=OCTETS, **TUS).status_code == 400  # no offset
    too_long = patch(api, url, 0, b"x" * 11)
    assert too_long.status_code == 413 and "Upload-Length" in too_long.json()["detail"]
    assert api.head(url).status_code == 412


def test_size_limit_and_quota(api: Any, settings: Any) -> None:
    settings.DATASET_UPLOAD_MAX_BYTES = 1000
    settings.DATASET_USER_QUOTA_BYTES = 1500
    response = create(api, 1001)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert create(api, 1000).status_code == 201
    over = create(api, 600)
    assert over.status_code == 413 and "quota" in over.json()["detail"]
    listing = api.get("/api/v1/uploads/").json()
    assert listing["used_bytes"] == 1000 and listing["quota_bytes"] == 1500 and len(listing["results"]) == 1


@override_settings(DATASET_UPLOAD_CHUNK_MAX_BYTES=2048)
def test_chunk_limit_is_checked_before_reading(api: Any) -> None:
    url = create(api, 10_000)["Location"]
    response = patch(api, url, 0, b"x" * 4096)
    assert response.status_code == 413
    assert Upload.objects.get().offset == 0


def test_a_chunk_may_be_larger_than_the_json_body_limit(api: Any, settings: Any) -> None:
    settings.API_MAX_BODY_BYTES = 1024
    data = b"y" * 5000
    url = create(api, len(data))["Location"]
    assert patch(api, url, 0, data).status_code == 204


def test_termination_frees_the_quota(api: Any) -> None:
    url = upload(api, b"z" * 20)
    name = Upload.objects.get().storage_name
    assert api.delete(url, **TUS).status_code == 204
    assert not Upload.objects.exists() and not default_storage.exists(name)
    assert api.head(url, **TUS).status_code == 404


def test_uploads_are_private(api: Any, bob: Any, client_for: Any) -> None:
    url = create(api, 10)["Location"]
    other = client_for(bob)
    assert other.head(url, **TUS).status_code == 404
    assert patch(other, url, 0, b"x").status_code == 404
    assert other.delete(url, **TUS).status_code == 404
    assert client_for(None).post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="5", **TUS).status_code == 401


# ---- datasets ----------------------------------------------------------------------------------
def test_create_dataset_and_version_validation(api: Any, alice: Any) -> None:
    project = create_project(alice, name="p")
    dataset = api.post("/api/v1/datasets/", {"project": project.pk, "name": "t", "kind": "table"}, format="json")
    assert dataset.status_code == 201 and dataset.json()["latest_version"] is None
    versions = f"/api/v1/datasets/{dataset.json()['id']}/versions/"
    url = upload(api, b"a,b\n1,2\n", "t.csv")
    upload_id = url.rstrip("/").rsplit("/", 1)[-1]
    missing_option = api.post(versions, {"upload": upload_id, "options": {}}, format="json")
    assert missing_option.status_code == 400 and "options.target_column" in missing_option.json()
    bad_range = api.post(versions, {"upload": upload_id, "options": {"target_column": "b", "val_fraction": 2}},
                         format="json")
    assert bad_range.status_code == 400 and "options.val_fraction" in bad_range.json()
    unknown = api.post(versions, {"upload": upload_id, "options": {"target_column": "b", "colour": 1}}, format="json")
    assert unknown.status_code == 400 and "options.colour" in unknown.json()
    ok = api.post(versions, {"upload": upload_id, "options": {"target_column": "b"}}, format="json")
    assert ok.status_code == 202 and ok.json()["status"] == "queued" and ok.json()["number"] == 1
    listed = api.get(versions).json()["results"]
    assert [v["number"] for v in listed] == [1]


def test_segmentation_dataset_and_its_options(api: Any, alice: Any) -> None:
    project = create_project(alice, name="p")
    dataset = api.post("/api/v1/datasets/", {"project": project.pk, "name": "s", "kind": "segmentation"}, format="json")
    assert dataset.status_code == 201 and dataset.json()["kind"] == "segmentation"
    versions = f"/api/v1/datasets/{dataset.json()['id']}/versions/"
    upload_id = upload(api, b"PK not a zip", "s.zip").rstrip("/").rsplit("/", 1)[-1]
    few = api.post(versions, {"upload": upload_id, "options": {"num_classes": 1}}, format="json")
    assert few.status_code == 400 and "options.num_classes" in few.json()
    size = api.post(versions, {"upload": upload_id, "options": {"image_size": [2, 2000]}}, format="json")
    assert size.status_code == 400 and "options" in size.json()
    label_csv = api.post(versions, {"upload": upload_id, "options": {"labels_csv": "x.csv"}}, format="json")
    assert label_csv.status_code == 400 and "options.labels_csv" in label_csv.json()
    ok = api.post(versions, {"upload": upload_id, "options": {"classes_file": "seg/classes.json"}}, format="json")
    assert ok.status_code == 202 and ok.json()["options"] == {"classes_file": "seg/classes.json"}


def test_version_needs_a_complete_upload_of_your_own(api: Any, alice: Any, bob: Any, client_for: Any) -> None:
    project = create_project(alice, name="p")
    add_member(alice, project, bob, "editor")
    dataset_id = api.post("/api/v1/datasets/", {"project": project.pk, "name": "i", "kind": "image"},
                          format="json").json()["id"]
    partial = create(api, 100)["Location"].rstrip("/").rsplit("/", 1)[-1]
    response = api.post(f"/api/v1/datasets/{dataset_id}/versions/", {"upload": partial}, format="json")
    assert response.status_code == 400 and "not complete" in response.json()["upload"][0]
    mine = upload(api, b"x" * 10).rstrip("/").rsplit("/", 1)[-1]
    theirs = client_for(bob).post(f"/api/v1/datasets/{dataset_id}/versions/", {"upload": mine}, format="json")
    assert theirs.status_code == 400 and "upload" in theirs.json()
    garbage = api.post(f"/api/v1/datasets/{dataset_id}/versions/", {"upload": "nope"}, format="json")
    assert garbage.status_code == 400 and "upload" in garbage.json()


def test_roles_and_visibility(api: Any, alice: Any, bob: Any, client_for: Any) -> None:
    project = create_project(alice, name="p")
    dataset_id = api.post("/api/v1/datasets/", {"project": project.pk, "name": "d", "kind": "text"},
                          format="json").json()["id"]
    stranger = client_for(bob)
    assert stranger.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    assert stranger.post("/api/v1/datasets/", {"project": project.pk, "name": "x", "kind": "text"},
                         format="json").status_code == 400
    add_member(alice, project, bob, "viewer")
    assert stranger.get(f"/api/v1/datasets/{dataset_id}/").status_code == 200
    assert stranger.patch(f"/api/v1/datasets/{dataset_id}/", {"name": "y"}, format="json").status_code == 403
    assert stranger.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "digits"},
                         format="json").status_code == 403


def test_augmentation_is_validated_json(api: Any, alice: Any) -> None:
    project = create_project(alice, name="p")
    url = "/api/v1/datasets/{}/".format(api.post("/api/v1/datasets/", {"project": project.pk, "name": "d",
                                                                       "kind": "image"}, format="json").json()["id"])
    ok = api.patch(url, {"augmentation": {"flip_horizontal": True, "rotate_degrees": 15}}, format="json")
    assert ok.status_code == 200 and ok.json()["augmentation"]["rotate_degrees"] == 15
    bad = api.patch(url, {"augmentation": {"rotate_degrees": 999}}, format="json")
    assert bad.status_code == 400 and "augmentation.rotate_degrees" in bad.json()
    assert api.patch(url, {"kind": "table"}, format="json").json()["kind"] == "image"


def test_sample_catalog_and_sample_dataset(api: Any, alice: Any) -> None:
    catalog = api.get("/api/v1/datasets/sample-catalog/").json()
    assert {c["id"] for c in catalog} == {"digits", "breast_cancer", "topics", "shapes", "chest_ct", "chest_ct_lesions"}
    assert {"id": "shapes", "kind": "segmentation"}.items() <= next(c for c in catalog if c["id"] == "shapes").items()
    project = create_project(alice, name="p")
    response = api.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "chest_ct"}, format="json")
    assert response.status_code == 202 and response.json()["sample_source"] == "chest_ct"
    assert api.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "mnist"},
                    format="json").status_code == 400
    assert api.post("/api/v1/datasets/from-sample/", {"project": 999999, "sample": "digits"},
                    format="json").json() == {"project": ["no project of yours has this id"]}


def test_versions_are_immutable(api: Any, alice: Any) -> None:
    from domain.datasets.models import ImmutableDatasetVersionError

    project = create_project(alice, name="p")
    api.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "digits"}, format="json")
    version = DatasetVersion.objects.get()
    version.options = {"seed": 1}
    with pytest.raises(ImmutableDatasetVersionError):
        version.save()
    assert api.patch(f"/api/v1/dataset-versions/{version.pk}/", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/dataset-versions/{version.pk}/").status_code == 405


def test_samples_and_previews_of_an_unfinished_version_answer_400(api: Any, alice: Any) -> None:
    project = create_project(alice, name="p")
    version = api.post("/api/v1/datasets/from-sample/", {"project": project.pk, "sample": "digits"},
                       format="json").json()
    response = api.get(f"/api/v1/dataset-versions/{version['id']}/samples/0/preview/")
    assert response.status_code == 400 and "queued" in response.json()["version"][0]
    assert api.get(f"/api/v1/dataset-versions/{version['id']}/samples/").json()["results"] == []


def test_make_sample_ct_writes_dicom_series(tmp_path: Path) -> None:
    import pydicom
    from django.core.management import call_command

    out = tmp_path / "ct"
    call_command("make_sample_ct", out=str(out), patients=2, slices=3, size=16, zip=True)
    files = sorted(out.rglob("*.dcm"))
    # Slice counts follow each scanner's thickness (3 at 2.5 mm); the storage varies per patient.
    assert len(files) >= 4 and {f.parts[-3] for f in files} == {"normal", "pneumonia"}
    ds = pydicom.dcmread(files[0])
    assert ds.Modality == "CT" and ds.pixel_array.shape == (16, 16) and ds.RescaleIntercept in (-1024, 0, -512)
    assert len(list(out.rglob("lesion_mask.nii.gz"))) == 2
    assert (tmp_path / "ct.zip").exists()
