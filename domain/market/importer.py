"""Importing a pretrained torchvision architecture from a weights file the user uploads. The graph
comes from the importer, the weights are checked tensor by tensor (``pipelines/market/
torchvision_weights.py``) and published as a new market entry of the user's: a trained model,
so it can be forked and fine-tuned like any other. The request checks what needs no weights
(``check_torchvision_request``); a worker job (``domain.market.imports``) does the rest."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from domain.market.models import EntryKind, MarketEntry, MarketEntryVersion, Visibility
from domain.market.services import add_version
from domain.projects.models import Project, Role
from domain.projects.services import DomainError, require_role
from pipelines.market.bundle import MAX_WEIGHTS_BYTES, sha256

# The convention of torchvision's ImageNet weights; the card says so rather than claim to know.
IMAGENET_NORMALIZE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def check_torchvision_request(user: AbstractBaseUser, *, architecture: str, input_size: int,
                              num_classes: int | None = None, visibility: str = Visibility.PRIVATE,
                              project: Project | None = None, classes: list[str] | None = None) -> int:
    """The checks that need no weights, made before the upload is kept or anything is built. Returns
    the architecture's parameter count, counted on the ``meta`` device (no memory; 0 where its
    constructor needs real tensors). Refusals are ``DomainError`` naming ``architecture``,
    ``input_size``, ``classes`` or ``project``."""
    from builder.graph.importer import InputSizeError
    from builder.graph.report import Limits, human_count
    from builder.graph.templates import TORCHVISION_ARCHITECTURES
    from pipelines.datasets.report import printable
    from pipelines.market.torchvision_weights import static_param_count

    if architecture not in TORCHVISION_ARCHITECTURES:
        raise DomainError("architecture", f"'{printable(architecture, 100)}' is not supported; choose one of "
                                          f"{', '.join(sorted(TORCHVISION_ARCHITECTURES))}")
    if visibility == Visibility.ORGANIZATION and project is None:
        raise DomainError("project", "organization visibility needs a project")
    if project is not None:
        require_role(user, project, Role.EDITOR)
    if classes and num_classes is not None and len(classes) != num_classes:
        raise DomainError("classes", f"{len(classes)} class names for a head of {num_classes} classes")
    try:
        params = static_param_count(architecture, num_classes or 1000, input_size) or 0
    except InputSizeError as exc:
        raise DomainError("input_size", f"{architecture} can't take {input_size}x{input_size} images: {exc}") from exc
    cap = Limits().max_params
    if params > cap:
        raise DomainError("architecture", f"{architecture} has {human_count(params)} parameters; the limit is "
                                          f"{human_count(cap)}")
    return params


def import_torchvision(user: AbstractBaseUser, *, architecture: str, data: bytes, filename: str,
                       num_classes: int | None = None, input_size: int = 224, title: str = "",
                       description: str = "", licence: str = "", visibility: str = Visibility.PRIVATE,
                       project: Project | None = None, classes: list[str] | None = None,
                       progress: Callable[[float, str], None] | None = None) -> MarketEntryVersion:
    """Publish ``architecture`` with the weights in ``data`` (a ``.safetensors`` file or a PyTorch
    checkpoint, named ``filename``) as a new private/organization/public model entry of ``user``.
    This builds the model: it runs in a worker (``domain.market.imports``), never in a request.
    ``num_classes`` defaults to the weights' head; ``progress`` gets (fraction, stage). Refusals
    are ``DomainError`` naming the field: ``architecture``, ``input_size``, ``num_classes``,
    ``classes``, ``project`` or ``weights``."""
    from safetensors.torch import save as st_save

    from builder.graph import GraphError
    from builder.graph.importer import InputSizeError, UnsupportedModuleError
    from pipelines.market.torchvision_weights import WeightsFileError, import_weights, read_state_dict

    def step(fraction: float, stage: str) -> None:
        if progress is not None:
            progress(fraction, stage)

    check_torchvision_request(user, architecture=architecture, input_size=input_size, num_classes=num_classes,
                              visibility=visibility, project=project, classes=classes)
    name = shown_filename(filename)
    if len(data) > MAX_WEIGHTS_BYTES:
        raise DomainError("weights", f"{name} is larger than {MAX_WEIGHTS_BYTES} bytes")
    try:
        step(0.1, "reading the weights")
        state = read_state_dict(data, name)
        step(0.35, f"checking the weights fit {architecture}")
        imported = import_weights(architecture, state, filename=name, num_classes=num_classes,
                                  input_size=input_size)
    except WeightsFileError as exc:
        raise DomainError("weights", exc.message) from exc
    except InputSizeError as exc:  # e.g. alexnet at 32: its pooling leaves nothing
        raise DomainError("input_size", f"{architecture} can't take {input_size}x{input_size} images: {exc}") from exc
    except (UnsupportedModuleError, GraphError) as exc:
        raise DomainError("architecture", f"{architecture} can't be imported: {exc}") from exc
    classes = list(classes or [])
    if classes and len(classes) != imported.num_classes:
        raise DomainError("classes", f"{len(classes)} class names for a head of {imported.num_classes} classes")
    step(0.8, "publishing")
    title = title or f"{architecture} ({name})"
    card = _card(imported.document, architecture=architecture, filename=name, data=data, input_size=input_size,
                 classes=classes, title=title, description=description, licence=licence, author=str(user),
                 left_out=imported.left_out)
    weights = st_save({k: v.detach().contiguous() for k, v in imported.weights.items()})
    with transaction.atomic():
        entry = MarketEntry.objects.create(
            author=user, kind=EntryKind.MODEL, project=project, visibility=visibility, title=title[:200],
            description=description, task="classification", modality="image", licence=licence[:100],
            classes=classes)
        return add_version(user, entry, document=imported.document, card=card, weights=weights, metrics={},
                           metrics_dataset={}, changelog=f"imported {architecture} weights from {name}")


def _card(document: dict[str, Any], *, architecture: str, filename: str, data: bytes, input_size: int,
          classes: list[str], title: str, description: str, licence: str, author: str,
          left_out: list[str]) -> dict[str, Any]:
    from pipelines.export.package import make_card

    preprocessing = {
        "input": "image", "layout": "NCHW", "channels": 3, "size": [input_size, input_size], "scale": 1 / 255,
        "steps": ["decode", "convert to RGB", f"resize to {input_size}x{input_size}", "scale to [0, 1]"],
        "note": "uploaded weights: their own preprocessing is not known here. torchvision's ImageNet "
                f"weights also expect each channel normalised by mean {IMAGENET_NORMALIZE['mean']} and std "
                f"{IMAGENET_NORMALIZE['std']}",
        "imagenet_normalize": IMAGENET_NORMALIZE,
    }
    card = make_card(document, name=title, task="classification", classes=classes, preprocessing=preprocessing,
                     lineage=[{"kind": "imported_weights", "architecture": architecture, "file": filename,
                               "file_sha256": sha256(data), "left_out": left_out}])
    card.update({"title": title, "description": description, "modality": "image", "licence": licence,
                 "author": author, "preprocessing": preprocessing, "architecture": f"torchvision.models.{architecture}",
                 "metrics_note": "not measured here: the weights were uploaded, not trained on this installation"})
    return card


def shown_filename(filename: str) -> str:
    """The upload's name as messages show it: printable and at most about 200 characters, its
    extension kept (it decides how the file is read)."""
    from pipelines.datasets.report import printable

    raw = PurePath(filename or "weights").name
    if len(raw) <= 200:
        return printable(raw, 200)
    suffix = printable(PurePath(raw).suffix[:20], 40)
    return printable(raw[: 200 - len(suffix)], 200 - len(suffix)) + suffix
