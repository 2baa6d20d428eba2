"""Fine-tuning's rules when a run is created: where the starting weights come from (a market
version, a fork or a model of the project, each resolved to a server-side safetensors file with its
SHA-256), whether they fit the graph, and the classifier head resized for the dataset's classes.
``run_services`` calls these while checking a run."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from pipelines.training.config import InitWeights, RunConfig

from .services import DomainError


def resolve_init_weights(user: AbstractBaseUser, project: Any, wanted: InitWeights) -> InitWeights:
    """Point ``wanted`` at the safetensors file of its market version or fork, with its SHA-256.
    A path sent by the client is replaced: only the server names files."""
    from . import market_services
    from .market_models import MarketFork

    if wanted.market_version is not None:
        field = "config.init_weights.market_version"
        version = market_services.visible_versions(user).filter(pk=wanted.market_version).first()
        if version is None:
            raise DomainError(field, f"no market version you can see has id {wanted.market_version}")
        if not version.has_weights:
            raise DomainError(field, f"market version {version.pk} is a template: it has no weights")
        relative, digest = version.weights_path, version.weights_sha256
    elif wanted.model is not None:
        return wanted.model_copy(update=model_weights(project, wanted.model))
    else:
        field = "config.init_weights.fork"
        forked = MarketFork.objects.filter(pk=wanted.fork, project=project).first()
        if forked is None:
            raise DomainError(field, f"no fork into this project has id {wanted.fork}")
        if not forked.weights_path:
            raise DomainError(field, f"fork {forked.pk} recorded no weights (it was forked from a template)")
        relative, digest = forked.weights_path, forked.weights_sha256
    path = market_services.weights_file(relative)
    if not path.is_file():
        raise DomainError(field, "the recorded weights file is missing")
    return wanted.model_copy(update={"path": str(path), "sha256": digest})


def model_weights(project: Any, model_id: int) -> dict[str, str]:
    """The safetensors file of a ready model of ``project`` (trained or pruned), with its SHA-256."""
    import hashlib

    from pipelines.export.package import WEIGHTS_FILE

    from .deploy_models import JobStatus, ModelKind, ModelVariant
    from .deploy_services import models_dir

    field = "config.init_weights.model"
    variant = ModelVariant.objects.filter(pk=model_id, project=project).first()
    if variant is None:
        raise DomainError(field, f"this project has no model with id {model_id}")
    if variant.status != JobStatus.SUCCEEDED or variant.kind == ModelKind.QUANTIZED:
        raise DomainError(field, f"model {model_id} is {variant.status}, {variant.kind}: only a ready trained or "
                          "pruned model can start a run")
    path = models_dir() / variant.folder / WEIGHTS_FILE
    if not variant.folder or not path.is_file():
        raise DomainError(field, f"the weights file of model {model_id} is missing")
    with path.open("rb") as weights:
        return {"path": str(path), "sha256": hashlib.file_digest(weights, "sha256").hexdigest()}


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
