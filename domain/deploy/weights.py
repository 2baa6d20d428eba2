"""A model of the project (trained or pruned) as the starting weights of a fine-tuning run."""
from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from domain.jobs.models import JobStatus
from domain.projects.services import DomainError
from domain.runs.finetune import WeightsFile, register_weight_source
from pipelines.export.package import WEIGHTS_FILE

from .models import ModelKind, ModelVariant
from .store import local_folder


def model_weights(user: AbstractBaseUser, project: Any, model_id: int) -> WeightsFile:
    """The safetensors file of a ready model of ``project``, with its SHA-256."""
    field = "config.init_weights.model"
    variant = ModelVariant.objects.filter(pk=model_id, project=project).first()
    if variant is None:
        raise DomainError(field, f"this project has no model with id {model_id}")
    if variant.status != JobStatus.SUCCEEDED or variant.kind == ModelKind.QUANTIZED:
        raise DomainError(field, f"model {model_id} is {variant.status}, {variant.kind}: only a ready trained or "
                          "pruned model can start a run")
    try:
        path = local_folder(variant.folder) / WEIGHTS_FILE
    except (OSError, ValueError) as exc:  # not in the store, or not the bytes published
        raise DomainError(field, f"the weights file of model {model_id} cannot be read: {exc}") from exc
    if not variant.folder or not path.is_file():
        raise DomainError(field, f"the weights file of model {model_id} is missing")
    with path.open("rb") as weights:
        return WeightsFile(path, hashlib.file_digest(weights, "sha256").hexdigest())


def register_weight_sources() -> None:
    register_weight_source("model", model_weights)
