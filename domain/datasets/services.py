"""The rules for datasets: uploads and quota, datasets and their immutable versions, and the
state changes the ingest task makes. Views and tasks call these; nothing else writes the models."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone
from django.utils.text import get_valid_filename

from domain import storage
from domain.datasets import multipart
from domain.datasets.models import Dataset, DatasetKind, DatasetSample, DatasetVersion, Upload, UploadStatus
from domain.jobs import lifecycle
from domain.jobs.models import JobStatus
from domain.projects.models import Project, Role
from domain.projects.services import DomainError, require_role
from domain.queue import enqueue
from pipelines.datasets.augment import AugmentationSettings
from pipelines.datasets.options import option_errors
from pipelines.datasets.samples import SAMPLES

log = logging.getLogger(__name__)
COPY_CHUNK = 1024 * 1024
AREA = "datasets"  # the versions' prefix in a shared store (domain.storage)
CACHE = "cache"  # under a version's folder: the preprocessed cache (pipelines.datasets.cache)
SAMPLE_BATCH = 2000


class UploadError(Exception):
    """A tus request the server refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---- uploads ---------------------------------------------------------------------------------
def quota_used(user: AbstractBaseUser) -> int:
    return int(Upload.objects.filter(owner=user).aggregate(total=Sum("length"))["total"] or 0)


def extraction_budget(version: DatasetVersion) -> int | None:
    """How many bytes ingesting ``version`` may extract: what is left of its uploader's quota
    (the upload itself included in what is used). Sample datasets have no uploader: no budget."""
    if version.upload is None:
        return None
    return max(settings.DATASET_USER_QUOTA_BYTES - quota_used(version.upload.owner), 0)


def staging_path(upload: Upload) -> Path:
    return Path(settings.DATASET_UPLOAD_STAGING_DIR) / f"{upload.pk}.part"


def clean_filename(raw: str) -> str:
    """A storable file name from what the client sent (no folders, NUL or control characters)."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable())
    return (get_valid_filename(base) if base.strip(". ") else "")[:200] or "upload"


def create_upload(user: AbstractBaseUser, *, length: int, filename: str, metadata: dict[str, str]) -> Upload:
    """Reserve ``length`` bytes of the user's quota for a new upload."""
    if length < 1:
        raise UploadError(400, "Upload-Length must be at least 1 byte")
    if length > settings.DATASET_UPLOAD_MAX_BYTES:
        raise UploadError(413, f"Upload-Length {length} is over the limit of {settings.DATASET_UPLOAD_MAX_BYTES} bytes")
    with transaction.atomic():
        # One user's uploads are created one at a time, so two cannot both squeeze under the quota.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        used = quota_used(user)
        if used + length > settings.DATASET_USER_QUOTA_BYTES:
            raise UploadError(413, f"this upload of {length} bytes would exceed your quota of "
                              f"{settings.DATASET_USER_QUOTA_BYTES} bytes ({used} bytes in use)")
        upload = Upload.objects.create(owner=user, length=length, filename=clean_filename(filename),
                                       metadata=metadata)
    if not multipart.applies():  # object storage stages in the bucket (domain/datasets/multipart.py)
        path = staging_path(upload)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return upload


def append_chunk(user: AbstractBaseUser, upload_id: Any, *, offset: int, length: int | None,
                 stream: IO[bytes]) -> Upload:
    """Write one PATCH body at ``offset``, streaming; completes the upload on its last byte.

    The upload's row is locked while the chunk is written, and its offset and staging state are
    saved in the same transaction, so any web replica may take any chunk: a second PATCH of the
    same upload while one is being written is answered 409 at once (HEAD, then resume)."""
    with transaction.atomic():
        try:
            upload = Upload.objects.select_for_update(nowait=True).get(pk=upload_id, owner=user)
        except OperationalError as exc:  # the row is locked: another request is writing this upload
            raise UploadError(409, "another request is writing a chunk of this upload: HEAD it and resume "
                              "from its Upload-Offset") from exc
        if offset != upload.offset:
            raise UploadError(409, f"Upload-Offset {offset} does not match the upload's offset {upload.offset}")
        room = upload.length - upload.offset
        if length is not None and length > room:
            raise UploadError(413, f"the chunk of {length} bytes goes past Upload-Length ({room} bytes left)")
        most = room if length is None else length
        fields = ["offset", "updated_at"]
        try:
            if multipart.applies():
                written = multipart.append(upload, stream, most, stored_name(upload))
                fields += ["multipart_id", "parts", "pending"]
            else:
                written = _write_at(staging_path(upload), offset, stream, most)
            upload.offset += written
            if upload.offset == upload.length:
                upload.storage_name = _to_storage(upload)
                upload.status = UploadStatus.COMPLETE
                fields += ["storage_name", "status"]
        except multipart.StorageFailed as exc:
            raise UploadError(502, str(exc)) from exc
        upload.save(update_fields=fields)
        return upload


def stored_name(upload: Upload) -> str:
    """The name a finished upload is stored under."""
    return f"datasets/uploads/{upload.owner_id}/{upload.pk}/{upload.filename}"


def _write_at(path: Path, offset: int, stream: IO[bytes], most: int) -> int:
    if offset == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    if not path.is_file() or path.stat().st_size < offset:
        # Staged by another process whose staging folder this one does not see.
        raise UploadError(410, f"the first {offset} bytes of this upload are not in this server's staging folder: "
                          "every web replica must share VMB_UPLOAD_STAGING_DIR (or use object storage)")
    with open(path, "r+b") as out:
        out.seek(offset)
        return multipart.spool(stream, out, most)


class _StagedFile(File):
    """Lets FileSystemStorage move the staged file into place instead of copying it."""

    def temporary_file_path(self) -> str:
        return str(self.file.name)


def _to_storage(upload: Upload) -> str:
    name = stored_name(upload)
    if multipart.applies():
        multipart.complete(upload, name)
        return name
    path = staging_path(upload)
    with open(path, "rb") as fh:
        stored = default_storage.save(name, _StagedFile(fh, name=upload.filename))
    path.unlink(missing_ok=True)
    return stored


def terminate_upload(user: AbstractBaseUser, upload_id: Any) -> None:
    _delete_upload(Upload.objects.get(pk=upload_id, owner=user))


def upload_expires(upload: Upload) -> datetime | None:
    """When an unfinished upload is deleted unless a chunk comes first (tus expiration); None
    once it is complete."""
    if upload.status != UploadStatus.UPLOADING:
        return None
    return upload.updated_at + timedelta(seconds=settings.DATASET_UPLOAD_EXPIRE_S)


def expire_uploads() -> int:
    """Delete the unfinished uploads no chunk reached for ``DATASET_UPLOAD_EXPIRE_S``, with their
    staged bytes (the staging file, or the multipart upload's parts and pending chunks), which
    frees the quota they held. An upload whose chunk is being written is left alone. Returns how
    many were deleted (the beat runs it hourly)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DATASET_UPLOAD_EXPIRE_S)
    stale = Upload.objects.filter(status=UploadStatus.UPLOADING, updated_at__lt=cutoff)
    expired = 0
    for pk in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            upload = stale.select_for_update(skip_locked=True).filter(pk=pk).first()
            if upload is not None:
                _delete_upload(upload)
                expired += 1
    return expired


def _delete_upload(upload: Upload) -> None:
    """The upload's bytes (staged and stored, with the folder made for it) and its row; on object
    storage an unfinished upload's parts are aborted and its pending chunks deleted."""
    staging_path(upload).unlink(missing_ok=True)
    if upload.multipart_id or upload.pending:
        multipart.abort(upload, stored_name(upload))
    if upload.storage_name:
        default_storage.delete(upload.storage_name)
        try:
            folder = Path(default_storage.path(upload.storage_name)).parent
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        except (NotImplementedError, OSError):
            pass  # remote storage has no folders to leave behind
    upload.delete()


# ---- no patient data left behind ------------------------------------------------------------------
KINDS_WITH_PATIENT_DATA = {DatasetKind.CT_DICOM}


def discard_original(version: DatasetVersion) -> bool:
    """After the ingest of a DICOM upload ends (either way), delete the upload: its stored file,
    its staging file and its row (which frees the quota). Kept while another version of the
    same upload still waits to be ingested. True when the upload was deleted."""
    upload = version.upload
    if upload is None or version.dataset.kind not in KINDS_WITH_PATIENT_DATA:
        return False
    if (DatasetVersion.objects.filter(upload=upload, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .exclude(pk=version.pk).exists()):
        return False
    _delete_upload(upload)
    return True


def keep_deidentified() -> bool:
    """Whether DICOM ingests keep de-identified copies of the slices (``VMB_KEEP_ORIGINALS``)."""
    return bool(settings.DATASET_KEEP_ORIGINALS == "deidentified")


def deidentification(kind: str, stats: dict[str, Any]) -> dict[str, Any] | None:
    """What a version says about patient data: where the originals went and by which profile
    kept copies were de-identified. None for kinds that carry no patient data."""
    if kind not in KINDS_WITH_PATIENT_DATA:
        return None
    copies = stats.get("deidentified_copies")
    derived = ("the cache holds pixels only; patients and series are named by salted pseudonyms "
               "whose salt is discarded, and no DICOM tag is copied")
    if copies:
        return {"originals": "deidentified_copies_kept", "profile": copies["profile"], "kept_files": copies["files"],
                "derived": derived}
    return {"originals": "deleted", "profile": "", "kept_files": 0, "derived": derived}


# ---- datasets and versions -------------------------------------------------------------------
def visible_datasets(user: AbstractBaseUser) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project__memberships__user=user).distinct()


def visible_versions(user: AbstractBaseUser) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(dataset__project__memberships__user=user).distinct()


def create_dataset(user: AbstractBaseUser, project: Project, *, name: str, kind: str,
                   description: str = "") -> Dataset:
    require_role(user, project, Role.EDITOR)
    if kind not in DatasetKind.values:
        raise DomainError("kind", f"unknown kind {kind!r}; use one of {', '.join(DatasetKind.values)}")
    return Dataset.objects.create(project=project, name=name, kind=kind, description=description, created_by=user)


def set_augmentation(user: AbstractBaseUser, dataset: Dataset, values: Any) -> Dataset:
    require_role(user, dataset.project, Role.EDITOR)
    from pydantic import ValidationError

    try:
        parsed = AugmentationSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DomainError(f"augmentation.{where}" if where else "augmentation", first["msg"]) from exc
    volume_only = parsed.volume_only()
    if volume_only and dataset.kind not in (DatasetKind.CT_DICOM, DatasetKind.CT_NIFTI):
        raise DomainError(f"augmentation.{volume_only[0]}", f"{volume_only[0]} applies to volumes (CT datasets); "
                          f"the samples of this {dataset.kind} dataset are not volumes")
    dataset.augmentation = parsed.model_dump()
    dataset.save(update_fields=["augmentation", "updated_at"])
    return dataset


def create_version(user: AbstractBaseUser, dataset: Dataset, *, options: dict[str, Any],
                   upload: Upload | None = None, sample: str = "") -> DatasetVersion:
    """A new pending version, ingested by a worker once this transaction commits."""
    require_role(user, dataset.project, Role.EDITOR)
    errors = option_errors(dataset.kind, options)
    if errors:
        field, messages = next(iter(errors.items()))
        raise DomainError(field, "; ".join(messages))
    if upload is not None:
        if upload.owner_id != user.pk:
            raise DomainError("upload", "this upload belongs to someone else")
        if upload.status != UploadStatus.COMPLETE:
            raise DomainError("upload", f"the upload is not complete ({upload.offset} of {upload.length} bytes)")
    elif not sample:
        raise DomainError("upload", "an upload id is required")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                last = dataset.versions.aggregate(n=Max("number"))["n"] or 0
                version = DatasetVersion.objects.create(
                    dataset=dataset, number=last + 1, upload=upload, sample_source=sample,
                    source_name=upload.filename if upload else SAMPLES[sample]["file"],  # type: ignore[index]
                    options=options, created_by=user,
                )
                Dataset.objects.filter(pk=dataset.pk).update(updated_at=version.created_at)
                transaction.on_commit(lambda pk=version.pk: enqueue("datasets.ingest_dataset_version", pk))
                return version
        except IntegrityError:
            continue
    raise DomainError("upload", "the dataset is being changed by someone else; try again")


@transaction.atomic
def create_sample_dataset(user: AbstractBaseUser, project: Project, sample: str, name: str = "") -> DatasetVersion:
    if sample not in SAMPLES:
        raise DomainError("sample", f"unknown sample {sample!r}; use one of {', '.join(sorted(SAMPLES))}")
    spec = SAMPLES[sample]
    dataset = create_dataset(user, project, name=name or str(spec["title"]), kind=str(spec["kind"]),
                             description=str(spec["title"]))
    return create_version(user, dataset, options=dict(spec["options"]), sample=sample)  # type: ignore[arg-type]


def delete_dataset(user: AbstractBaseUser, dataset: Dataset) -> None:
    """Delete the dataset, its versions' folders and, with a shared store, their objects there."""
    require_role(user, dataset.project, Role.EDITOR)
    folder = dataset_folder(dataset)
    dataset.delete()
    shutil.rmtree(folder, ignore_errors=True)
    transaction.on_commit(lambda: _delete_objects(_relative(folder)))


def _delete_objects(relative: str) -> None:
    try:
        storage.delete_tree(AREA, relative)
    except Exception:  # the rows are gone either way; what is left in the store is logged, not fatal
        log.exception("could not delete the store's objects under %s/%s", AREA, relative)


def preview_split(dataset: Dataset, upload: Upload, options: Any) -> dict[str, Any]:
    """How ``upload`` would split as a version of ``dataset`` with ``options`` (see
    ``pipelines.datasets.split_preview``); DomainError naming the option when one is bad."""
    from pipelines.datasets.limits import Limits
    from pipelines.datasets.split_preview import preview_split as preview

    errors = option_errors(dataset.kind, options)
    if errors:
        field, messages = next(iter(errors.items()))
        raise DomainError(field, "; ".join(messages))
    try:
        path = Path(default_storage.path(upload.storage_name))
    except NotImplementedError:
        return {"available": False, "reason": "the upload is in remote storage: the split is counted during the ingest"}
    return preview(dataset.kind, path, options, Limits.from_dict(settings.DATASET_INGEST_LIMITS))


# ---- folders and sources -----------------------------------------------------------------------
def dataset_folder(dataset: Dataset) -> Path:
    return Path(settings.DATASETS_ROOT) / f"project-{dataset.project_id}" / f"dataset-{dataset.pk}"


def version_folder(version: DatasetVersion) -> Path:
    return dataset_folder(version.dataset) / f"v{version.number}"


def cache_folder(version: DatasetVersion) -> Path:
    """The version's preprocessed cache on this machine: what training, previews, planes and the
    target statistics read, memory-mapped. In the local default its folder under ``DATASETS_ROOT``.
    With a shared store a folder of the content-hash cache (``<VMB_CACHE_DIR>/folders/<sha256>``,
    counted in ``VMB_CACHE_BYTES``, evicted least recently used), installed from the version's
    published bundle when missing; a reader that opens files after this returns should use
    ``held_cache`` so that no eviction deletes it meanwhile."""
    with held_cache(version) as folder:
        return folder


@contextmanager
def held_cache(version: DatasetVersion) -> Iterator[Path]:
    """``cache_folder``, kept from eviction until the block ends (the local default never evicts).
    DomainError when the store has no such cache: an ingest not finished, or one from before the
    store."""
    folder = version_folder(version) / CACHE
    if not storage.is_shared_store():
        yield folder
        return
    with ExitStack() as held:
        try:
            installed = held.enter_context(storage.cached_folder(AREA, _relative(folder)))
        except FileNotFoundError as exc:
            raise DomainError("dataset_version", f"the files of dataset version {version.pk} are not in the "
                              "object store (ingested before the store was configured, or removed from it): "
                              "ingest it again") from exc
        yield installed


def ingest_workdir(version: DatasetVersion) -> Path:
    """Where the ingest writes the version's cache: its folder in the local default. With a shared
    store, a fresh scratch folder beside it (an earlier attempt's left behind on this machine is
    removed), moved into place only once published (``publish_version``): an ingest that dies
    leaves no partial cache that this machine would take for the version when the re-run happens
    on another machine."""
    folder = version_folder(version)
    if not storage.is_shared_store():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".ingest-{folder.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".ingest-{folder.name}-", dir=folder.parent))


def drop_workdir(version: DatasetVersion, workdir: Path) -> None:
    """Remove what is left of an ingest's scratch folder (nothing in the local default)."""
    if workdir != version_folder(version):
        shutil.rmtree(workdir, ignore_errors=True)


def publish_version(version: DatasetVersion, workdir: Path) -> list[str]:
    """With a shared store, publish what a finished ingest made in ``workdir``: the cache and, when
    kept, the de-identified DICOM copies (never anything else of the source), each as one tar
    named by its hash under the version's own prefix, then its pointer; then move them into the
    version's folder on this machine (the cache into the content-hash cache, where ``cache_folder``
    finds it). Returns their hashes (none in the local default, where web and workers share
    ``DATASETS_ROOT`` and the ingest wrote there)."""
    from pipelines.datasets.ingest import ORIGINALS

    if not storage.is_shared_store():
        return []
    digests, made = [], [name for name in (CACHE, ORIGINALS) if (workdir / name).is_dir()]
    for name in made:
        relative = _relative(version_folder(version) / name)
        digests.append(str(storage.publish_folder(AREA, workdir / name, beside=True, relative=relative)))
    for name, digest in zip(made, digests, strict=True):
        if name == CACHE:
            storage.adopt_folder(digest, workdir / name)
            continue
        target = version_folder(version) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)  # what an earlier attempt left here, or an older install
        os.rename(workdir / name, target)
    return digests


def _relative(folder: Path) -> str:
    return folder.relative_to(Path(settings.DATASETS_ROOT)).as_posix()


def ct_volume(version: DatasetVersion, sample: DatasetSample) -> Any:
    """The cached (D, H, W) HU volume of a CT sample as a memory map (nothing is read until a
    slice is): the sample itself in 3d mode, its series' slices put together in 2d mode."""
    from pipelines.datasets.cache import open_inputs

    inputs = open_inputs(cache_folder(version))
    if version.recipe.get("mode") != "2d":
        return inputs[sample.index, 0]
    first = sample.index - int((sample.meta or {}).get("slice", 0))
    return inputs[first : first + int(version.recipe["volume_shape"][0]), 0]


def voxel_mm(version: DatasetVersion, sample: DatasetSample) -> tuple[float, float, float]:
    """The size in mm of one cached voxel of a CT sample (depth, height, width): the recipe's
    spacing when the ingest resampled to one, else the series' extent over the cached shape
    (1 mm each when the ingest did not record the extent)."""
    if version.recipe.get("spacing"):
        return tuple(float(v) for v in version.recipe["spacing"])  # type: ignore[return-value]
    extent = (sample.meta or {}).get("extent_mm")
    shape = version.recipe.get("volume_shape") or [1, 1, 1]
    if not extent or len(extent) != 3:
        return (1.0, 1.0, 1.0)
    return tuple(max(float(e), 1e-3) / int(n) for e, n in zip(extent, shape, strict=True))  # type: ignore[return-value]


@contextmanager
def open_source(version: DatasetVersion) -> Iterator[tuple[Path, str]]:
    """(local path, name) of the version's source: a sample written now, or the upload, read in
    place from local storage or streamed from remote storage into the version's folder."""
    from pipelines.datasets.samples import write_sample

    scratch = version_folder(version) / "source"
    try:
        if version.sample_source:
            path = write_sample(version.sample_source, scratch)
            yield path, path.name
            return
        upload = version.upload
        if upload is None or not upload.storage_name:
            raise FileNotFoundError("the upload of this version was deleted")
        try:
            yield Path(default_storage.path(upload.storage_name)), upload.filename
            return
        except NotImplementedError:
            pass
        scratch.mkdir(parents=True, exist_ok=True)
        local = scratch / upload.filename
        with default_storage.open(upload.storage_name, "rb") as src, open(local, "wb") as out:
            shutil.copyfileobj(src, out, COPY_CHUNK)
        yield local, upload.filename
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---- the ingest task's state changes -------------------------------------------------------------
def begin_ingest(version_id: int) -> DatasetVersion | None:
    """Claim the version's ingest (again, after a lost worker); None when it already finished."""
    if not lifecycle.begin(DatasetVersion, version_id, resume=True):
        return None
    return DatasetVersion.objects.select_related("dataset", "upload").get(pk=version_id)


def record_progress(version: DatasetVersion, event: dict[str, Any], group: str) -> None:
    """Keep the ingest's last progress event for late viewers and send it to ``group``."""
    lifecycle.progress(DatasetVersion, version.pk, event, group=group)


@transaction.atomic
def finish_ingest(version: DatasetVersion, result: Any, progress: dict[str, Any]) -> bool:
    """Store an IngestResult: samples, stats, recipe; the version succeeds. False when it had
    already ended (nothing is stored then)."""
    DatasetSample.objects.filter(version=version).delete()  # a re-run after a lost worker
    rows = [DatasetSample(version=version, index=s["index"], name=s["name"][:300], label=s["label"][:200],
                          target=s["target"], group=s["group"][:200], split=s["split"], meta=s["meta"])
            for s in result.samples]
    DatasetSample.objects.bulk_create(rows, batch_size=SAMPLE_BATCH)
    stats = dict(result.stats)
    status = deidentification(version.dataset.kind, stats)
    if status is not None:
        stats["deidentification"] = status
    finished = lifecycle.finish(
        DatasetVersion, version.pk, skipped=result.skipped, skipped_total=result.skipped_total, task=result.task,
        classes=result.classes, stats=stats, recipe=result.recipe, sample_count=len(rows), progress=progress)
    if not finished:
        transaction.set_rollback(True)
    return finished


def fail_ingest(version: DatasetVersion, error: dict[str, str], skipped: list[dict[str, Any]],
                skipped_total: int, progress: dict[str, Any]) -> None:
    lifecycle.fail(DatasetVersion, version.pk, error, skipped=skipped, skipped_total=skipped_total,
                   progress=progress)
