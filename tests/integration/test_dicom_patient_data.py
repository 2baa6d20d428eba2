"""No patient data left behind: a DICOM upload carrying names, IDs, birth dates and accession
numbers is ingested by a real worker; afterwards none of those bytes is in any file under the
data folders, in a dump of the database, or in the web and worker logs."""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from domain.datasets.models import Upload
from domain.projects.services import create_project
from tests.dicom_phi import patients, series_zip
from tests.integration.test_dataset_ingest import finished, ingest, new_dataset, owner, upload_in_process

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
__all__ = ["owner"]  # the fixture, shared with the other ingest tests


def _files_holding(secrets: list[bytes], *folders: Path) -> list[str]:
    found = []
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {s!r}" for s in secrets if s in data]
    return found


def _database_dump() -> bytes:
    db = connection.settings_dict
    return subprocess.run(
        ["pg_dump", "--data-only", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
         "-U", db["USER"] or "postgres", db["NAME"]], check=True, capture_output=True, timeout=120).stdout


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump of the test database")
def test_a_dicom_upload_leaves_no_patient_data_behind(owner: Any, live_stack: Any, tmp_path: Path) -> None:
    user, client = owner
    project = create_project(user, name="phi")
    people = patients(4, tag=uuid.uuid4().hex[:6].upper())
    secrets = [s for p in people for s in p.secrets()]
    archive = series_zip(tmp_path / "ct.zip", people)
    assert all(s in archive.read_bytes() for s in secrets)  # the search below can find them
    upload = upload_in_process(client, archive.read_bytes(), "ct.zip")
    stored = Path(default_storage.path(Upload.objects.get(pk=upload).storage_name))
    assert _files_holding(secrets, stored.parent)  # the upload holds them until the ingest

    version = finished(client, ingest(client, new_dataset(client, project, "ct_dicom"), upload,
                                      {"volume_shape": [4, 16, 16]}), live_stack)
    assert version["status"] == "succeeded" and version["sample_count"] == 4
    assert version["upload"] is None and not Upload.objects.filter(pk=upload).exists()
    assert not stored.exists() and not stored.parent.exists()
    assert version["deidentification"]["originals"] == "deleted"
    assert [s["slices"] for s in version["series"]] == [4, 4, 4, 4]

    folders = [Path(settings.MEDIA_ROOT), Path(settings.DATASETS_ROOT), Path(settings.DATASET_UPLOAD_STAGING_DIR)]
    assert _files_holding(secrets, *folders) == []
    dump = _database_dump()
    assert b"ct.zip" in dump  # the dump is of the database the worker wrote to
    assert [s for s in secrets if s in dump] == []
    assert _files_holding(secrets, live_stack.logs) == []
