"""Start from the data: a graph proposed for a dataset version, and a graph's input adapted to one.

The graph core (``builder.graph.propose``) does the adapting; this module describes a version to
it, checks who may do what, and saves the results as graphs and graph versions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from builder.graph.propose import DataSummary, ProposalError, adapt_input, closest_template, propose_for_data
from domain.datasets.models import DatasetVersion
from domain.projects.models import Graph, GraphVersion, Role
from domain.projects.services import DomainError, create_graph, create_graph_version, require_role

MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Built:
    """A graph made for a dataset version (or a new version of one) and what was changed."""

    graph: Graph
    version: GraphVersion
    template: str
    notes: list[str]


def data_summary(version: DatasetVersion) -> DataSummary:
    """What the graph core needs to know of a ready version: modality, one sample's shape, the
    task and its classes, the vocabulary. ``DomainError`` when the version is not ready or its
    data can't be described."""
    if not version.is_usable:
        raise DomainError("dataset_version", f"the dataset version is {version.status}: only a ready (succeeded) "
                          "version can be built for")
    recipe, stats = version.recipe or {}, version.stats or {}
    modality = recipe.get("input", "")
    shape: list[int] = [int(s) for s in stats.get("sample_shape") or []]
    if modality == "image" and recipe.get("size"):
        shape = [int(recipe["channels"]), *(int(s) for s in recipe["size"])]
    elif modality == "table" and recipe.get("features"):
        shape = [len(recipe["features"])]
    elif modality == "text" and recipe.get("max_length"):
        shape = [int(recipe["max_length"])]
    task = "segmentation" if recipe.get("target") == "mask" else (version.task or "classification")
    try:
        return DataSummary.from_dict({"modality": modality, "shape": shape, "task": task,
                                      "classes": len(version.classes or []), "vocab_size": recipe.get("vocab_size"),
                                      "name": version.dataset.name})
    except ProposalError as exc:
        raise DomainError("dataset_version", f"this dataset version can't be built for: {exc.message}") from exc


def summary_dict(summary: DataSummary) -> dict[str, Any]:
    return {"modality": summary.modality, "shape": list(summary.shape), "task": summary.task,
            "classes": summary.classes, "vocab_size": summary.vocab_size}


def build_model(user: AbstractBaseUser, version: DatasetVersion, *, name: str = "") -> Built:
    """A new graph in the version's project, its first version the closest template adapted to
    the data (``propose_for_data``). Needs the editor role."""
    project = version.dataset.project
    require_role(user, project, Role.EDITOR)
    summary = data_summary(version)
    try:
        document, notes = propose_for_data(summary)
    except ProposalError as exc:
        raise DomainError("dataset_version", exc.message) from exc
    template, _why = closest_template(summary)
    source = f"{version.dataset.name} v{version.number}"
    with transaction.atomic():
        graph = create_graph(user, project, name=name or f"{version.dataset.name} model"[:200],
                             description=f"Proposed for {source}.", template=template)
        graph_version = create_graph_version(user, graph, document=document,
                                             message=_message(f"proposed for {source}", notes))
    return Built(graph, graph_version, template, notes)


def adapt_graph(user: AbstractBaseUser, graph_version: GraphVersion, version: DatasetVersion) -> Built:
    """A new version of ``graph_version``'s graph whose input takes the dataset version's samples
    (``adapt_input``), its parent ``graph_version``. ``DomainError`` naming ``graph_version`` when the
    graph can't be adapted, saying why."""
    graph = graph_version.graph
    require_role(user, graph.project, Role.EDITOR)
    if version.dataset.project_id != graph.project_id:
        raise DomainError("dataset_version", "the dataset version belongs to another project")
    summary = data_summary(version)
    try:
        document, notes = adapt_input(graph_version.document, summary)
    except ProposalError as exc:
        raise DomainError("graph_version", exc.message) from exc
    source = f"{version.dataset.name} v{version.number}"
    new = create_graph_version(user, graph, document=document, parent=graph_version,
                               message=_message(f"input adapted to {source}", notes))
    return Built(graph, new, graph.template, notes)


def input_check(graph_version: GraphVersion, version: DatasetVersion) -> dict[str, Any]:
    """Whether the graph's input takes the version's samples as they are: the two shapes, the
    resize training would make (images whose channels match, ``None`` otherwise) and a sentence."""
    from builder.graph import validate

    summary = data_summary(version)
    report = validate(graph_version.document)
    data_shape = list(summary.shape)
    graph_shape: list[int] | None = None
    if len(report.inputs) == 1 and report.inputs[0] in report.nodes:
        graph_shape = list(report.nodes[report.inputs[0]].outputs["out"])[1:]
    fits = graph_shape == data_shape
    resize = None
    # Training resizes images whose channels match (runs' _input_plan); anything else it refuses.
    if (not fits and graph_shape and summary.modality == "image" and len(graph_shape) == 3
            and graph_shape[0] == data_shape[0]):
        resize = graph_shape[1:]
    if fits:
        message = f"the graph takes {_dims(data_shape)} samples, as the dataset holds"
    elif graph_shape is None:
        message = f"the graph has {len(report.inputs)} inputs; the dataset's samples are {_dims(data_shape)}"
    elif resize:
        message = (f"the graph takes {_dims(graph_shape)} but the dataset's images are {_dims(data_shape)}: "
                   f"training would resize every image to {_dims(resize)}")
    else:
        message = (f"the graph takes {_dims(graph_shape)} but the dataset's samples are {_dims(data_shape)}: "
                   "training would be refused")
    return {"fits": fits, "graph_shape": graph_shape, "data_shape": data_shape, "resize": resize,
            "message": message, "data": summary_dict(summary)}


def _dims(shape: list[int]) -> str:
    return "×".join(map(str, shape))


def _message(head: str, notes: list[str]) -> str:
    text = f"{head}: " + "; ".join(notes)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
