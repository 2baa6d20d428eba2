"""Fine-tuning's rules when a run is created: where the starting weights come from (a market
version, a fork or a model of the project, each resolved to a server-side safetensors file with its
SHA-256), whether they fit the graph, and the classifier head resized for the dataset's classes.
``domain.runs.services`` calls these while checking a run."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from domain.projects.services import DomainError
from pipelines.training.config import InitWeights, RunConfig


@dataclass(frozen=True)
class WeightsFile:
    """A safetensors file the server owns, with its SHA-256 (checked again before loading)."""

    path: Path
    sha256: str


# A weight source resolves one field of ``InitWeights`` (its id) to a server-side safetensors file.
# The domains that own such files register a source at start-up (``DomainConfig.ready``), so runs
# never import the domains that depend on it (deploy, market).
WeightSource = Callable[[AbstractBaseUser, Any, int], WeightsFile]
WEIGHT_SOURCES: dict[str, WeightSource] = {}


def register_weight_source(field: str, source: WeightSource) -> None:
    """Register ``source`` for ``InitWeights.<field>``; a field has exactly one source."""
    if field not in InitWeights.model_fields:
        raise ValueError(f"InitWeights has no field {field!r}")
    if WEIGHT_SOURCES.get(field, source) is not source:
        raise ValueError(f"a weight source for {field!r} is already registered")
    WEIGHT_SOURCES[field] = source


def resolve_init_weights(user: AbstractBaseUser, project: Any, wanted: InitWeights) -> InitWeights:
    """Point ``wanted`` at the safetensors file of its source (market version, fork or model),
    with its SHA-256. A path sent by the client is replaced: only the server names files."""
    for field, source in WEIGHT_SOURCES.items():
        object_id = getattr(wanted, field)
        if object_id is not None:
            found = source(user, project, object_id)
            return wanted.model_copy(update={"path": str(found.path), "sha256": found.sha256})
    raise DomainError("config.init_weights", "no source of starting weights is registered for this request")


def new_head(document: dict[str, Any], config: RunConfig,
              classes: int) -> tuple[dict[str, Any] | None, str | None]:
    """A classifier whose output does not match the dataset's classes gets its last linear layer
    resized; returns the new document and that node's id, or ``(None, None)``."""
    from builder.graph import validate
    from pipelines.training.finetune import replace_head

    if config.task != "classification":
        return None, None
    report = validate(document, batch_size=1)
    if not report.ok or len(report.outputs) != 1:
        return None, None  # plan_run says what is wrong
    node_id, port = report.outputs[0].split(":")
    if list(report.nodes[node_id].outputs[port])[1:] == [classes]:
        return None, None
    changed, head = replace_head(document, node_id, classes)
    return (changed, head) if head is not None else (None, None)


def check_weights_fit(document: dict[str, Any], init: InitWeights) -> None:
    """At least one tensor of the starting weights must fit the graph (same name and shape)."""
    from safetensors import safe_open

    from builder.graph import compile_graph

    own = {k: tuple(v.shape) for k, v in compile_graph(document).state_dict().items()}
    dropped = tuple(f"{node}." for node in init.drop)
    try:
        with safe_open(init.path, framework="pt") as found:
            fitting = [k for k in found.keys()  # noqa: SIM118 (safe_open is not a mapping)
                       if own.get(k) == tuple(found.get_slice(k).get_shape()) and not k.startswith(dropped)]
    except Exception as exc:  # noqa: BLE001 (safetensors raises its own error types)
        raise DomainError("config.init_weights", f"the starting weights cannot be read: {exc}") from exc
    if not fitting:
        raise DomainError("config.init_weights", "none of the starting weights fit this graph "
                          "(no parameter has the same name and shape)")
