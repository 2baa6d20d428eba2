"""The one job lifecycle (domain.jobs): every job model moves queued -> running -> one terminal
status, through conditional updates that a second worker or a re-delivered task cannot undo."""
from __future__ import annotations

from typing import Any

import pytest

from domain.datasets.models import DatasetVersion
from domain.deploy.models import Deployment, ModelExport, ModelVariant
from domain.jobs import lifecycle
from domain.jobs.models import Job, JobStatus
from domain.market.models import MarketImport
from domain.runs.models import TrainingRun
from tests.deploy_factories import make_artifact

pytestmark = pytest.mark.django_db

JOB_MODELS = [DatasetVersion, ModelVariant, ModelExport, TrainingRun, MarketImport, Deployment]


@pytest.mark.parametrize("model", JOB_MODELS, ids=lambda m: m.__name__)
def test_every_background_job_is_a_job_with_one_status_vocabulary(model: type[Job]) -> None:
    assert issubclass(model, Job)
    field = model._meta.get_field("status")
    assert [value for value, _label in field.choices] == list(JobStatus.values)
    for name in ("progress", "error", "created_at", "started_at", "finished_at"):
        model._meta.get_field(name)


@pytest.fixture
def variant(alice: Any) -> ModelVariant:
    artifact = make_artifact(alice, "concat")
    return ModelVariant.objects.create(project=artifact.run.project, kind="pruned", name="v", artifact=artifact,
                                       created_by=alice)


def test_begin_claims_once_and_finish_ends_once(variant: ModelVariant) -> None:
    assert variant.status == JobStatus.QUEUED
    assert lifecycle.begin(ModelVariant, variant.pk)
    assert not lifecycle.begin(ModelVariant, variant.pk)  # a task delivered twice runs once
    variant.refresh_from_db()
    assert variant.status == JobStatus.RUNNING and variant.started_at is not None
    lifecycle.progress(ModelVariant, variant.pk, {"phase": "prune", "done": 1, "total": 2})
    assert lifecycle.finish(ModelVariant, variant.pk, folder="models/1")
    assert not lifecycle.fail(ModelVariant, variant.pk, {"code": "late", "message": "too late"})
    variant.refresh_from_db()
    assert (variant.status, variant.folder, variant.error) == (JobStatus.SUCCEEDED, "models/1", {})
    assert variant.progress == {"phase": "prune", "done": 1, "total": 2} and variant.is_finished
    assert variant.finished_at is not None and variant.finished_at >= variant.started_at


def test_progress_is_kept_only_while_running_and_fail_records_the_error(variant: ModelVariant) -> None:
    lifecycle.progress(ModelVariant, variant.pk, {"phase": "too early"})
    assert lifecycle.fail(ModelVariant, variant.pk, {"code": "bad_config", "message": "no", "field": "ratio"})
    lifecycle.progress(ModelVariant, variant.pk, {"phase": "too late"})
    variant.refresh_from_db()
    assert variant.progress == {} and variant.status == JobStatus.FAILED
    assert variant.error == {"code": "bad_config", "message": "no", "field": "ratio"}


def test_resume_reclaims_a_job_left_running_and_keeps_its_start(variant: ModelVariant) -> None:
    assert lifecycle.begin(ModelVariant, variant.pk)
    started = ModelVariant.objects.get(pk=variant.pk).started_at
    assert not lifecycle.begin(ModelVariant, variant.pk)
    assert lifecycle.begin(ModelVariant, variant.pk, resume=True)  # its worker died; a new one takes over
    assert ModelVariant.objects.get(pk=variant.pk).started_at == started


def test_finish_refuses_a_status_that_is_not_terminal(variant: ModelVariant) -> None:
    with pytest.raises(ValueError, match="not a terminal"):
        lifecycle.finish(ModelVariant, variant.pk, JobStatus.RUNNING)
