"""The rules of the model market: who sees an entry, publishing (a trained model or a template),
search, stars, forks into projects, and bundle export and publishing. Views call these; the seeded
market is ``seed``, imports (bundles and torchvision weights, as worker jobs) ``imports`` and
``importer``; the bundle format is
``pipelines/market/bundle.py``."""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet

from domain import storage
from domain.deploy.services import card_for_artifact
from domain.market.modality import checked as checked_modality
from domain.market.modality import normalise as normalise_modality
from domain.market.models import (
    EntryKind,
    MarketEntry,
    MarketEntryVersion,
    MarketFork,
    MarketStar,
    Visibility,
)
from domain.projects.models import GraphVersion, Project, Role
from domain.projects.services import DomainError, create_graph, create_graph_version, require_role
from domain.runs.artifacts import weights_file as run_weights_file
from domain.runs.models import RunArtifact
from pipelines.market.bundle import MarketBundle, file_sha256, sha256, write_bundle

SYSTEM_USERNAME = "market"
AREA = "market"  # domain.storage.AREAS
ENTRY_FIELDS = ("title", "description", "task", "modality", "licence", "visibility")


def market_dir() -> Path:
    """Where published weights live; web and workers must share it."""
    return Path(settings.MARKET_DIR)


def weights_file(relative: str) -> Path:
    return market_dir() / relative


def stored_weights(relative: str, digest: str) -> Path:
    """Published weights as a local file: in the market folder in the local default, else read
    from the shared store through the content-hash cache (``OSError`` when missing there,
    ``DigestMismatch``, a ``ValueError``, when the bytes are not the ones recorded)."""
    return storage.local_file(AREA, relative, digest)


# ---- visibility --------------------------------------------------------------------------------
def visible_entries(user: AbstractBaseUser) -> QuerySet[MarketEntry]:
    """Public entries, the user's own, and organization entries of projects the user is in."""
    member_of = Project.objects.filter(memberships__user=user).values("pk")
    return MarketEntry.objects.filter(
        Q(visibility=Visibility.PUBLIC) | Q(author=user)
        | Q(visibility=Visibility.ORGANIZATION, project__in=member_of))


def visible_versions(user: AbstractBaseUser) -> QuerySet[MarketEntryVersion]:
    return MarketEntryVersion.objects.filter(entry__in=visible_entries(user))


def _require_author(user: AbstractBaseUser, entry: MarketEntry) -> None:
    if entry.author_id != user.pk:
        raise DomainError("entry", f"only the author of market entry {entry.pk} can change it")


# ---- figures -----------------------------------------------------------------------------------
def _graph_figures(document: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    """Parameters, FLOPs and the input contract of a valid graph; ``DomainError`` otherwise."""
    from builder.graph import validate
    from pipelines.export.package import input_contract

    report = validate(document, batch_size=1)
    if not report.ok:
        first = report.errors[0]
        raise DomainError("graph_version", f"the graph is not valid: {first.message}")
    inputs, outputs = input_contract(document)
    return int(report.params), int(report.flops), {"inputs": inputs, "outputs": outputs}


def accuracy_of(metrics: dict[str, Any]) -> float | None:
    """The headline accuracy of a metrics record: test first, then best validation, then top level."""
    for scope in (metrics.get("test"), metrics.get("best"), metrics.get("val"), metrics):
        if isinstance(scope, dict) and isinstance(scope.get("accuracy"), int | float):
            return float(scope["accuracy"])
    return None


def registry_version() -> int:
    from builder.graph.registry import REGISTRY_VERSION

    return REGISTRY_VERSION


# ---- publishing --------------------------------------------------------------------------------
def _store_weights(data: bytes | Path) -> tuple[str, str]:
    """Keep safetensors weights under the market folder: bytes are written, a file (an import's,
    already checked) is moved there, so a large one is never held in memory."""
    relative = f"weights/{uuid.uuid4().hex}.safetensors"
    path = weights_file(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, Path):
        digest = file_sha256(data)
        shutil.move(data, path)
    else:
        path.write_bytes(data)
        digest = sha256(data)
    storage.put(AREA, relative, path)  # with a shared store, where every other process reads it
    return relative, digest


def add_version(user: AbstractBaseUser, entry: MarketEntry, *, document: dict[str, Any], card: dict[str, Any],
                weights: bytes | Path | None, metrics: dict[str, Any], metrics_dataset: dict[str, Any],
                changelog: str = "", **sources: Any) -> MarketEntryVersion:
    """Publish the next version of ``entry``: the graph is validated for its figures, the weights
    (safetensors bytes or a file, which is moved; None for a template) stored with their SHA-256,
    and the entry's ``latest_*`` fields and input contract follow. The card gets the version
    number, params and FLOPs."""
    params, flops, contract = _graph_figures(document)
    card = {**card, "params": params, "flops": flops}  # batch 1, as the graph core counts them
    weights_path, digest = _store_weights(weights) if weights is not None else ("", "")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                number = (entry.versions.aggregate(n=Max("number"))["n"] or 0) + 1
                version = MarketEntryVersion.objects.create(
                    entry=entry, number=number, card={**card, "version": number}, document=document,
                    weights_path=weights_path, weights_sha256=digest, metrics=metrics,
                    metrics_dataset=metrics_dataset, params=params, flops=flops,
                    registry_version=registry_version(), changelog=changelog, created_by=user, **sources)
                MarketEntry.objects.filter(pk=entry.pk).update(
                    latest_params=params, latest_flops=flops, latest_accuracy=accuracy_of(metrics),
                    input_contract={**contract, "preprocessing": card.get("preprocessing", {})})
                entry.refresh_from_db()
                return version
        except IntegrityError:
            continue  # two publishes raced for the same number
    raise DomainError("entry", "the entry is being published by someone else; try again")


def _entry(user: AbstractBaseUser, entry: MarketEntry | None, kind: str, fields: dict[str, Any],
           defaults: dict[str, Any], project: Project | None) -> MarketEntry:
    if "modality" in fields:
        fields = {**fields, "modality": checked_modality(fields["modality"])}
    if entry is not None:
        _require_author(user, entry)
        if entry.kind != kind:
            raise DomainError("entry", f"market entry {entry.pk} is a {entry.kind}; publish a {entry.kind} to it")
        updates = {k: v for k, v in fields.items() if k in ENTRY_FIELDS and v not in (None, "")}
        for key, value in updates.items():
            setattr(entry, key, value)
        if updates:
            entry.save(update_fields=[*updates, "updated_at"])
        return entry
    values = {**defaults, **{k: v for k, v in fields.items() if k in ENTRY_FIELDS and v not in (None, "")}}
    if not values.get("title"):
        raise DomainError("title", "a new market entry needs a title")
    return MarketEntry.objects.create(author=user, kind=kind, project=project, **values)


def publish_artifact(user: AbstractBaseUser, artifact: RunArtifact, *, entry: MarketEntry | None = None,
                     changelog: str = "", **fields: Any) -> MarketEntryVersion:
    """Publish a run's trained model: as a new entry, or as the next version of ``entry``."""

    run = artifact.run
    require_role(user, run.project, Role.EDITOR)
    try:
        path = run_weights_file(artifact.weights_path, artifact.weights_sha256)
    except (OSError, ValueError) as exc:  # missing from the store, or not the bytes recorded
        raise DomainError("run", f"the trained weights of run {run.pk} cannot be read: {exc}") from exc
    if not path.is_file():
        raise DomainError("run", f"the trained weights of run {run.pk} are missing")
    data = path.read_bytes()
    if artifact.weights_sha256 and sha256(data) != artifact.weights_sha256:
        raise DomainError("run", f"the trained weights of run {run.pk} do not match their recorded SHA-256")
    card = card_for_artifact(artifact)
    dataset_version = run.dataset_version
    recipe = dataset_version.recipe or {}
    defaults = {"title": card["name"], "task": card.get("task", ""), "classes": list(artifact.classes),
                "modality": normalise_modality(recipe.get("input") or dataset_version.dataset.kind)}
    card["preprocessing"] = artifact.preprocessing
    with transaction.atomic():
        target = _entry(user, entry, EntryKind.MODEL, fields, defaults, run.project)
        if entry is not None:
            MarketEntry.objects.filter(pk=target.pk).update(classes=list(artifact.classes))
        card.update({"title": target.title, "licence": target.licence, "author": str(user)})
        return add_version(user, target, document=artifact.graph_version.document, card=card, weights=data,
                           metrics=artifact.metrics, metrics_dataset=card.get("dataset", {}),
                           changelog=changelog, source_artifact=artifact,
                           source_graph_version=artifact.graph_version)


def publish_template(user: AbstractBaseUser, graph_version: GraphVersion, *, entry: MarketEntry | None = None,
                     changelog: str = "", **fields: Any) -> MarketEntryVersion:
    """Publish a graph version alone, as a template (no weights)."""
    project = graph_version.graph.project
    require_role(user, project, Role.EDITOR)
    defaults = {"title": graph_version.graph.name, "description": graph_version.graph.description}
    with transaction.atomic():
        target = _entry(user, entry, EntryKind.TEMPLATE, fields, defaults, project)
        return publish_document(user, target, graph_version.document, changelog, source_graph_version=graph_version)


def publish_document(user: AbstractBaseUser, entry: MarketEntry, document: dict[str, Any], changelog: str,
                     **sources: Any) -> MarketEntryVersion:
    """Publish ``document`` as the next version of the template ``entry``."""
    card = {"card_version": 1, "name": entry.title, "title": entry.title, "task": entry.task,
            "modality": entry.modality, "licence": entry.licence, "author": str(user), "format": "template"}
    return add_version(user, entry, document=document, card=card, weights=None, metrics={},
                       metrics_dataset={}, changelog=changelog, **sources)


def update_entry(user: AbstractBaseUser, entry: MarketEntry, **fields: Any) -> MarketEntry:
    """Change an entry's description fields or visibility (author only); versions stay as they are."""
    _require_author(user, entry)
    updates = {k: v for k, v in fields.items() if k in ENTRY_FIELDS}
    if "modality" in updates:
        updates["modality"] = checked_modality(updates["modality"])
    if updates.get("title") == "":
        raise DomainError("title", "the title cannot be blank")
    if updates.get("visibility") == Visibility.ORGANIZATION and entry.project_id is None:
        raise DomainError("visibility", "organization visibility needs an entry published from a project")
    for key, value in updates.items():
        setattr(entry, key, value)
    entry.save(update_fields=[*updates, "updated_at"])
    return entry


# ---- search ------------------------------------------------------------------------------------
SORTS = {
    "recent": ("-updated_at", "-id"),
    "accuracy": (F("latest_accuracy").desc(nulls_last=True), "-id"),
    "size": ("latest_params", "-id"),
    "-size": ("-latest_params", "-id"),
    "popularity": ("-popularity", "-id"),  # annotated in search()
    "stars": ("-stars", "-id"),
    "downloads": ("-downloads", "-id"),
}


def search(entries: QuerySet[MarketEntry], *, q: str = "", task: str = "", modality: str = "", kind: str = "",
           max_params: int | None = None, min_params: int | None = None, min_accuracy: float | None = None,
           sort: str = "recent") -> QuerySet[MarketEntry]:
    """Filter and order entries; ``sort`` is one of ``SORTS``."""
    if q:
        entries = entries.filter(Q(title__icontains=q) | Q(description__icontains=q))
    if task:
        entries = entries.filter(task=task)
    if modality:
        entries = entries.filter(modality=normalise_modality(modality) or modality)
    if kind:
        entries = entries.filter(kind=kind)
    if max_params is not None:
        entries = entries.filter(latest_params__lte=max_params)
    if min_params is not None:
        entries = entries.filter(latest_params__gte=min_params)
    if min_accuracy is not None:
        entries = entries.filter(latest_accuracy__gte=min_accuracy)
    if sort == "popularity":
        return entries.annotate(popularity=F("stars") + F("forks") + F("downloads")).order_by("-popularity", "-id")
    return entries.order_by(*SORTS[sort])


# ---- stars, forks, downloads ---------------------------------------------------------------------
def star(user: AbstractBaseUser, entry: MarketEntry) -> MarketEntry:
    try:
        with transaction.atomic():
            MarketStar.objects.create(entry=entry, user=user)
            MarketEntry.objects.filter(pk=entry.pk).update(stars=F("stars") + 1)
    except IntegrityError:
        pass  # already starred: starring is idempotent
    entry.refresh_from_db()
    return entry


def unstar(user: AbstractBaseUser, entry: MarketEntry) -> MarketEntry:
    with transaction.atomic():
        deleted, _ = MarketStar.objects.filter(entry=entry, user=user).delete()
        if deleted:
            MarketEntry.objects.filter(pk=entry.pk).update(stars=F("stars") - 1)
    entry.refresh_from_db()
    return entry


def fork(user: AbstractBaseUser, version: MarketEntryVersion, project: Project, *, name: str = "") -> MarketFork:
    """Copy a market version into a project as a new graph; a trained model's weights are copied
    beside it and recorded on the fork, as the starting point of a fine-tuning run."""
    require_role(user, project, Role.EDITOR)
    entry = version.entry
    with transaction.atomic():
        graph = create_graph(user, project, name=name or entry.title,
                             description=f"Forked from market entry {entry.pk} v{version.number}")
        graph_version = create_graph_version(user, graph, document=version.document,
                                             message=f"forked from market entry {entry.pk} v{version.number}")
        weights_path = digest = ""
        if version.has_weights:
            weights_path, digest = _store_weights(_version_weights(version))
        forked = MarketFork.objects.create(version=version, project=project, graph_version=graph_version,
                                           weights_path=weights_path, weights_sha256=digest, created_by=user)
        MarketEntry.objects.filter(pk=entry.pk).update(forks=F("forks") + 1)
    return forked


def _version_weights(version: MarketEntryVersion) -> bytes:
    try:
        data = stored_weights(version.weights_path, version.weights_sha256).read_bytes()
    except (OSError, ValueError) as exc:  # missing, or (from the store) not the bytes recorded
        raise DomainError("version", f"the weights of market version {version.pk} are missing") from exc
    if sha256(data) != version.weights_sha256:
        raise DomainError("version", f"the weights of market version {version.pk} do not match their SHA-256")
    return data


# ---- bundles -----------------------------------------------------------------------------------
def export_bundle(version: MarketEntryVersion) -> bytes:
    """The version as one zip file (counts as a download)."""
    weights = _version_weights(version) if version.has_weights else None
    entry = version.entry
    card = {**version.card, "title": entry.title, "description": entry.description, "task": entry.task,
            "modality": entry.modality, "classes": entry.classes, "licence": entry.licence,
            "metrics": version.metrics, "metrics_dataset": version.metrics_dataset,
            "params": version.params, "flops": version.flops, "kind": entry.kind}
    data = write_bundle(MarketBundle(version.document, card, version.registry_version, weights))
    MarketEntry.objects.filter(pk=entry.pk).update(downloads=F("downloads") + 1)
    return data


def publish_bundle(user: AbstractBaseUser, bundle: MarketBundle, weights: Path | None, *,
                   visibility: str = Visibility.PRIVATE, project: Project | None = None) -> MarketEntryVersion:
    """Publish a checked bundle (``domain.market.imports`` checks it) as a new entry owned by
    ``user``; ``weights`` is its checked safetensors file, None for a template."""
    card = bundle.card
    kind = EntryKind.MODEL if weights is not None else EntryKind.TEMPLATE
    limits = {"title": 200, "description": 10_000, "task": 40, "modality": 40, "licence": 100}
    values = {key: str(card.get(key) or "")[:limit] for key, limit in limits.items()}
    values["title"] = values["title"] or str(bundle.document.get("name") or "imported model")[:200]
    values["modality"] = normalise_modality(values["modality"])
    classes = card.get("classes") if isinstance(card.get("classes"), list) else []
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    dataset = card.get("metrics_dataset") if isinstance(card.get("metrics_dataset"), dict) else {}
    with transaction.atomic():
        entry = MarketEntry.objects.create(author=user, kind=kind, project=project, visibility=visibility,
                                           classes=[str(c) for c in classes], **values)
        return add_version(user, entry, document=bundle.document, card={**card, "imported": True},
                           weights=weights, metrics=metrics, metrics_dataset=dataset,
                           changelog="imported from a bundle")
