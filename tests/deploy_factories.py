"""A finished training run with its trained-model artifact, made directly (weights trained here on
digits), for the deploy API and integration tests."""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from safetensors.torch import save_file

from domain.jobs.models import JobStatus
from tests.model_factories import DIGIT_CLASSES, trained_package


def make_artifact(user: Any, kind: str = "concat", project: Any = None) -> Any:
    """A digits classifier (``kind`` of tests.model_factories) trained for 3 epochs."""
    return artifact_from_package(
        user, trained_package(kind), project=project, name=f"digits {kind}", dataset=("digits", "image"),
        classes=DIGIT_CLASSES, recipe={"input": "image", "task": "classification"},
        preprocessing={"input": "image", "scale": 1 / 16}, metrics={"test": {"accuracy": 0.95}}, epochs=3)


def artifact_from_package(user: Any, package: Any, *, name: str, dataset: tuple[str, str], classes: list[str],
                          recipe: dict[str, Any], preprocessing: dict[str, Any], metrics: dict[str, Any],
                          epochs: int, project: Any = None) -> Any:
    """A succeeded run of ``package`` (document and weights) on a succeeded dataset version named
    and kinded by ``dataset``, with its artifact's weights written under TRAINING_RUNS_DIR."""
    from domain.datasets.models import Dataset, DatasetVersion
    from domain.projects import services
    from domain.runs.models import RunArtifact, TrainingRun

    project = project or services.create_project(user, name=f"deploy {uuid.uuid4().hex[:6]}")
    graph = services.create_graph(user, project, name=name)
    version = services.create_graph_version(user, graph, document=package.document, message="trained")
    data = Dataset.objects.create(project=project, name=dataset[0], kind=dataset[1], created_by=user)
    dataset_version = DatasetVersion.objects.create(
        dataset=data, number=1, status=JobStatus.SUCCEEDED, task="classification", classes=classes,
        recipe=recipe, created_by=user)
    run = TrainingRun.objects.create(project=project, graph_version=version, dataset_version=dataset_version,
                                     status=JobStatus.SUCCEEDED, config={"epochs": epochs}, created_by=user)
    folder = Path(settings.TRAINING_RUNS_DIR) / f"test-deploy-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    weights = folder / "model.safetensors"
    save_file({k: v.contiguous() for k, v in package.weights.items()}, str(weights))
    return RunArtifact.objects.create(
        run=run, graph_version=version, weights_path=weights.relative_to(settings.TRAINING_RUNS_DIR).as_posix(),
        weights_sha256=hashlib.sha256(weights.read_bytes()).hexdigest(), metrics=metrics,
        config={"epochs": epochs}, preprocessing=preprocessing, classes=classes)
