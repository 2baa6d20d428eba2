"""A market version or a fork into the project as the starting weights of a fine-tuning run."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from domain.projects.services import DomainError
from domain.runs.finetune import WeightsFile, register_weight_source

from .models import MarketFork
from .services import stored_weights, visible_versions


def _existing(field: str, relative: str, digest: str) -> WeightsFile:
    try:
        path = stored_weights(relative, digest)
    except (OSError, ValueError) as exc:  # not in the store, or not the bytes recorded
        raise DomainError(field, f"the recorded weights file cannot be read: {exc}") from exc
    if not path.is_file():
        raise DomainError(field, "the recorded weights file is missing")
    return WeightsFile(path, digest)


def version_weights(user: AbstractBaseUser, project: Any, version_id: int) -> WeightsFile:
    """The weights of a market version ``user`` can see."""
    field = "config.init_weights.market_version"
    version = visible_versions(user).filter(pk=version_id).first()
    if version is None:
        raise DomainError(field, f"no market version you can see has id {version_id}")
    if not version.has_weights:
        raise DomainError(field, f"market version {version.pk} is a template: it has no weights")
    return _existing(field, version.weights_path, version.weights_sha256)


def fork_weights(user: AbstractBaseUser, project: Any, fork_id: int) -> WeightsFile:
    """The weights recorded by a fork into ``project``."""
    field = "config.init_weights.fork"
    forked = MarketFork.objects.filter(pk=fork_id, project=project).first()
    if forked is None:
        raise DomainError(field, f"no fork into this project has id {fork_id}")
    if not forked.weights_path:
        raise DomainError(field, f"fork {forked.pk} recorded no weights (it was forked from a template)")
    return _existing(field, forked.weights_path, forked.weights_sha256)


def register_weight_sources() -> None:
    register_weight_source("market_version", version_weights)
    register_weight_source("fork", fork_weights)
