"""Imports into the market as worker jobs (``MarketImport``): a bundle, or torchvision weights.

The request does only what is cheap and allocates no model: it checks the fields, streams the
upload to disk under the market folder (bounded by ``MARKET_UPLOAD_MAX_BYTES``), reads a bundle's
manifest, card and graph (never its weights) and counts the graph's parameters from the shape
rules, refusing a graph over the cap at once. A worker (``market.run_import``) does the rest:
SHA-256 of the weights, their safetensors header, their fit to the graph (on the ``meta`` device),
building a torchvision model, and publishing. The person polls the job. With a shared store
(``domain.storage``) the checked upload is moved to ``market/imports/`` there, the worker copies it
from there, and deletes it when the job ends either way."""
from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet

from domain import storage
from domain.jobs import lifecycle
from domain.jobs.models import JobStatus
from domain.market.importer import check_torchvision_request, import_torchvision, shown_filename
from domain.market.models import ImportKind, MarketEntryVersion, MarketImport, Visibility
from domain.market.services import AREA, market_dir, publish_bundle, registry_version
from domain.projects.models import Project, Role
from domain.projects.services import DomainError, require_role
from domain.queue import enqueue
from pipelines.market.bundle import (
    GRAPH_FILE,
    WEIGHTS_FILE,
    BundleError,
    MarketBundle,
    extract_weights,
    graph_state_shapes,
    inspect_bundle,
)

log = logging.getLogger(__name__)
TASK = "market.run_import"
SHOWN = 5  # tensor names listed per problem in a refusal


def visible_imports(user: AbstractBaseUser) -> QuerySet[MarketImport]:
    """A person sees their own imports only."""
    return MarketImport.objects.filter(created_by=user)


# ---- the request -------------------------------------------------------------------------------
def start_bundle_import(user: AbstractBaseUser, upload: UploadedFile, *, visibility: str = Visibility.PRIVATE,
                        project: Project | None = None) -> MarketImport:
    """Keep the uploaded bundle, check all but its weights, and queue the job that checks the
    weights and publishes it. Refusals are ``DomainError`` naming ``file`` (with the member at
    fault) or ``project``; a graph over the parameter cap is one, before anything is built."""
    _check_target(user, visibility, project)
    path = _store_upload(upload, "file")
    try:
        bundle = _inspect(path)
        params = _static_params(bundle.document)
    except DomainError:
        path.unlink(missing_ok=True)
        raise
    return _queue(user, ImportKind.BUNDLE, path, upload, params, project, {"visibility": visibility})


def start_torchvision_import(user: AbstractBaseUser, upload: UploadedFile, *, architecture: str,
                             input_size: int = 224, num_classes: int | None = None, title: str = "",
                             description: str = "", licence: str = "", visibility: str = Visibility.PRIVATE,
                             project: Project | None = None, classes: list[str] | None = None) -> MarketImport:
    """Check the fields (the architecture's size counted on the ``meta`` device), keep the weights
    file, and queue the job that reads, fits and publishes them (``importer.import_torchvision``)."""
    params = check_torchvision_request(user, architecture=architecture, input_size=input_size,
                                       num_classes=num_classes, visibility=visibility, project=project,
                                       classes=classes)
    path = _store_upload(upload, "weights")
    options = {"architecture": architecture, "input_size": input_size, "num_classes": num_classes,
               "title": title, "description": description, "licence": licence, "visibility": visibility,
               "classes": list(classes or [])}
    return _queue(user, ImportKind.TORCHVISION, path, upload, params, project, options)


def _check_target(user: AbstractBaseUser, visibility: str, project: Project | None) -> None:
    if visibility == Visibility.ORGANIZATION and project is None:
        raise DomainError("project", "organization visibility needs a project")
    if project is not None:
        require_role(user, project, Role.EDITOR)


def _store_upload(upload: UploadedFile, field: str) -> Path:
    """Copy the upload (Django has spooled a large one to a temporary file) under the market
    folder chunk by chunk, so that memory stays flat: web and workers share that folder in the
    local default; with a shared store it goes there once checked (``_queue``)."""
    limit = settings.MARKET_UPLOAD_MAX_BYTES
    name = shown_filename(upload.name or "")
    if upload.size is not None and upload.size > limit:
        raise DomainError(field, f"{name} is larger than {limit} bytes")
    path = market_dir() / "imports" / f"{uuid.uuid4().hex}.upload"
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    if written > limit:
        path.unlink(missing_ok=True)
        raise DomainError(field, f"{name} is larger than {limit} bytes")
    return path


def _inspect(path: Path) -> MarketBundle:
    from builder.graph import registry

    try:
        return inspect_bundle(path, known_layer_types=set(registry.ids()), registry_version=registry_version())
    except BundleError as exc:
        raise DomainError("file", f"{exc.file}: {exc.message}" if exc.file else exc.message) from exc


def _static_params(document: dict[str, Any]) -> int:
    """The graph's parameters from its shape rules (nothing is built); ``DomainError`` naming
    graph.json for an invalid graph, the parameter cap first among its problems."""
    from builder.graph import validate

    report = validate(document, batch_size=1)
    if not report.ok:
        first = min(report.errors, key=lambda e: e.code != "too_large")
        raise DomainError("file", f"{GRAPH_FILE}: {first.message}")
    return int(report.params)


def _queue(user: AbstractBaseUser, kind: str, path: Path, upload: UploadedFile, params: int,
           project: Project | None, options: dict[str, Any]) -> MarketImport:
    relative = path.relative_to(market_dir()).as_posix()
    if storage.is_shared_store():  # the worker may be on another machine: it reads the upload from the store
        try:
            storage.put(AREA, relative, path)
        finally:
            path.unlink(missing_ok=True)
    with transaction.atomic():
        job = MarketImport.objects.create(
            kind=kind, filename=shown_filename(upload.name or ""), upload=relative,
            options=options, params=params, project=project, created_by=user,
            progress={"fraction": 0.0, "stage": "queued"})
        transaction.on_commit(lambda: enqueue(TASK, job.pk, queue="cpu"))
    return job


def _local_upload(relative: str) -> Path:
    """The import's upload on this machine: with a shared store, copied from it when not here (it
    is read once and then deleted, so it does not go through the content-hash cache)."""
    path = market_dir() / relative
    if storage.is_shared_store() and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with storage.store().open(storage.object_name(AREA, relative), "rb") as src, open(partial, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        partial.replace(path)
    return path


# ---- the worker --------------------------------------------------------------------------------
def run_import(import_id: int) -> str:
    """Check and publish the import ``import_id``; returns its final status. Claimed by one
    conditional update, so a task delivered twice imports once. The upload is deleted either way."""
    if not lifecycle.begin(MarketImport, import_id, progress={"fraction": 0.02, "stage": "starting"}):
        return str(MarketImport.objects.get(pk=import_id).status)
    job = MarketImport.objects.select_related("created_by", "project").get(pk=import_id)
    path = market_dir() / job.upload
    extracted = path.with_suffix(".safetensors")
    try:
        path = _local_upload(job.upload)
        version = _run_bundle(job, path, extracted) if job.kind == ImportKind.BUNDLE else _run_torchvision(job, path)
    except DomainError as exc:
        return _fail(job, {"code": "refused", "field": exc.field, "message": exc.message})
    except Exception as exc:  # noqa: BLE001  (recorded on the job for the person to read)
        log.exception("market import %s failed", job.pk)
        message = f"the import failed: {type(exc).__name__}: {str(exc)[:300]}"
        return _fail(job, {"code": "failed", "field": "", "message": message})
    finally:
        path.unlink(missing_ok=True)
        extracted.unlink(missing_ok=True)
        _delete_stored_upload(job.upload)
    lifecycle.finish(MarketImport, job.pk, entry=version.entry, version=version,
                     progress={"fraction": 1.0, "stage": "imported"})
    return JobStatus.SUCCEEDED


def _delete_stored_upload(relative: str) -> None:
    if storage.is_shared_store():
        try:
            storage.store().delete(storage.object_name(AREA, relative))
        except Exception:  # the job's outcome stands; a leftover object is logged
            log.exception("could not delete the import upload %s/%s from the store", AREA, relative)


def _progress(job: MarketImport, fraction: float, stage: str) -> None:
    lifecycle.progress(MarketImport, job.pk, {"fraction": round(min(max(fraction, 0.0), 1.0), 3), "stage": stage[:100]})


def _fail(job: MarketImport, error: dict[str, str]) -> str:
    stage = "refused" if error["code"] == "refused" else "failed"
    fraction = MarketImport.objects.get(pk=job.pk).progress.get("fraction", 0.0)
    lifecycle.fail(MarketImport, job.pk, error, progress={"fraction": fraction, "stage": stage})
    return JobStatus.FAILED


def _run_bundle(job: MarketImport, path: Path, extracted: Path) -> MarketEntryVersion:
    visibility = str(job.options.get("visibility") or Visibility.PRIVATE)
    _check_target(job.created_by, visibility, job.project)  # the project may have changed since
    _progress(job, 0.05, "checking the bundle")
    bundle = _inspect(path)
    weights: Path | None = None
    if bundle.lists_weights:
        shown = {"at": 0.0}

        def copied(fraction: float) -> None:  # a row update per 5%, not per chunk
            if fraction - shown["at"] >= 0.05 or fraction >= 1.0:
                shown["at"] = fraction
                _progress(job, 0.1 + 0.6 * fraction, f"checking the SHA-256 of {WEIGHTS_FILE}")

        try:
            found = extract_weights(path, extracted, bundle.manifest, progress=copied)
        except BundleError as exc:
            raise DomainError("file", f"{exc.file}: {exc.message}" if exc.file else exc.message) from exc
        _progress(job, 0.75, f"checking that {WEIGHTS_FILE} fits {GRAPH_FILE}")
        _check_weights_fit(bundle.document, found)
        weights = extracted
    _progress(job, 0.9, "publishing")
    return publish_bundle(job.created_by, bundle, weights, visibility=visibility, project=job.project)


def _check_weights_fit(document: dict[str, Any], found: dict[str, tuple[int, ...]]) -> None:
    """The weights must have exactly the names and shapes of the graph's state dict, which is
    built on the meta device: a graph near the cap costs no memory here either."""
    from builder.graph import GraphError

    try:
        expected = graph_state_shapes(document)
    except (GraphError, ValueError) as exc:
        raise DomainError("file", f"{GRAPH_FILE} is not a valid graph: {exc}") from exc
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if missing or unexpected or wrong:
        raise DomainError("file", f"{WEIGHTS_FILE} does not fit {GRAPH_FILE}: missing {missing[:SHOWN]}, "
                                  f"unexpected {unexpected[:SHOWN]}, wrong shape {wrong[:SHOWN]}")


def _run_torchvision(job: MarketImport, path: Path) -> MarketEntryVersion:
    options = job.options
    return import_torchvision(
        job.created_by, architecture=str(options["architecture"]), data=path.read_bytes(), filename=job.filename,
        num_classes=options.get("num_classes"), input_size=int(options.get("input_size") or 224),
        title=str(options.get("title") or ""), description=str(options.get("description") or ""),
        licence=str(options.get("licence") or ""), visibility=str(options.get("visibility") or Visibility.PRIVATE),
        project=job.project, classes=list(options.get("classes") or []),
        progress=lambda fraction, stage: _progress(job, fraction, stage))
