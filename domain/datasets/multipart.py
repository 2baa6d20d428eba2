"""tus chunks into object storage (issue 18): an upload on S3 (or MinIO) is one S3 multipart upload.

S3 takes parts of at least 5 MiB (``MIN_PART_BYTES``; only the last may be smaller) and at most
10,000 of them, while a tus client picks its own chunk size. So a chunk is never refused for being
small: chunks are gathered until they add up to a part of ``part_bytes`` (5 MiB, or more for an
upload over 10,000 of those), and a chunk that does not yet make one is kept as an object of its
own under ``STAGING_PREFIX``, listed in ``Upload.pending``. The chunk that fills a part, or ends the
upload, is sent with the pending ones before it as one part, and those objects are deleted.

Everything another web replica needs to take the next chunk is on the ``Upload`` row (the multipart
upload's id, the parts with their ETags, the pending objects), written in the transaction that
holds the row's lock, so S3 never has state the database does not know of: a chunk whose
transaction did not commit left at most an object or a part that the retry at the same offset
writes again under the same key or part number.

Each request reads its body into a temporary file, one ``COPY_CHUNK`` at a time, so a web
process's memory stays bounded whatever the chunk; the file holds at most one part (the pending
bytes and the chunk), and is gone when the request ends.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from typing import IO, Any

from django.core.files.storage import Storage, default_storage
from django.db import transaction

from domain.datasets.models import Upload

MIN_PART_BYTES = 5 * 1024**2  # S3's smallest part but the last
MAX_PARTS = 10_000  # S3's most parts of one multipart upload
STAGING_PREFIX = "datasets/uploads/staging"
COPY_CHUNK = 1024 * 1024
log = logging.getLogger(__name__)


class StorageFailed(Exception):
    """The object store refused or failed a request (the message names the S3 error)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def applies(storage: Storage | None = None) -> bool:
    """Whether ``storage`` (the default storage) is django-storages' S3 backend."""
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # pragma: no cover - django-storages is a requirement
        return False
    return isinstance(storage if storage is not None else default_storage, S3Storage)


def part_bytes(length: int) -> int:
    """The size every part but the last reaches before it is sent: 5 MiB, or enough that an
    upload of ``length`` bytes needs at most 10,000 parts."""
    return max(MIN_PART_BYTES, -(-length // MAX_PARTS))


def _client_and_bucket() -> tuple[Any, str]:
    storage: Any = default_storage
    return storage.connection.meta.client, storage.bucket_name


def _key(name: str) -> str:
    """The object key the storage keeps ``name`` under (its ``location`` prefix included)."""
    from storages.utils import clean_name

    storage: Any = default_storage
    return str(storage._normalize_name(clean_name(name)))


def _s3(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        raise StorageFailed(f"object storage refused to {what}: {code} {error.get('Message', '')}".strip(),
                            code) from exc
    except BotoCoreError as exc:
        raise StorageFailed(f"object storage failed to {what}: {exc}") from exc


def append(upload: Upload, stream: IO[bytes], most: int, final_name: str) -> int:
    """Take at most ``most`` bytes of ``stream`` at ``upload.offset``: as a pending object, or with
    the pending ones as the next part. Updates the upload's ``multipart_id``, ``parts`` and
    ``pending`` (the caller saves them with the offset). Returns the bytes taken."""
    client, bucket = _client_and_bucket()
    with tempfile.TemporaryFile() as body:
        written = spool(stream, body, most)
        if written == 0:
            return 0
        pending_size = sum(int(p["size"]) for p in upload.pending)
        ends = upload.offset + written == upload.length
        if pending_size + written < part_bytes(upload.length) and not ends:
            key = _key(f"{STAGING_PREFIX}/{upload.pk}/{upload.offset:015d}")
            body.seek(0)
            _s3("store a chunk", client.put_object, Bucket=bucket, Key=key, Body=body, ContentLength=written)
            upload.pending = [*upload.pending, {"key": key, "size": written}]
            return written
        with tempfile.TemporaryFile() as part:
            for piece in upload.pending:
                got = _s3("read a pending chunk", client.get_object, Bucket=bucket, Key=piece["key"])
                with got["Body"] as source:
                    shutil.copyfileobj(source, part, COPY_CHUNK)
            body.seek(0)
            shutil.copyfileobj(body, part, COPY_CHUNK)
            size = part.tell()
            if size != pending_size + written:
                raise StorageFailed(f"the pending chunks of upload {upload.pk} are {size - written} bytes, "
                                    f"not the {pending_size} recorded")
            if not upload.multipart_id:
                started = _s3("start a multipart upload", client.create_multipart_upload, Bucket=bucket,
                              Key=_key(final_name), ContentType="application/octet-stream")
                upload.multipart_id = started["UploadId"]
            number = len(upload.parts) + 1
            part.seek(0)
            sent = _s3("store a part", client.upload_part, Bucket=bucket, Key=_key(final_name),
                       UploadId=upload.multipart_id, PartNumber=number, Body=part, ContentLength=size)
        upload.parts = [*upload.parts, {"n": number, "etag": sent["ETag"], "size": size}]
        done = [p["key"] for p in upload.pending]
        upload.pending = []
        # Deleted once the parts that now hold their bytes are on the row (a rollback keeps them).
        transaction.on_commit(lambda: _delete_quietly(done))
        return written


def complete(upload: Upload, final_name: str) -> None:
    """Put the parts together into the object ``final_name`` (the upload's last byte has come)."""
    client, bucket = _client_and_bucket()
    _s3("complete the multipart upload", client.complete_multipart_upload, Bucket=bucket, Key=_key(final_name),
        UploadId=upload.multipart_id,
        MultipartUpload={"Parts": [{"PartNumber": p["n"], "ETag": p["etag"]} for p in upload.parts]})


def abort(upload: Upload, final_name: str) -> None:
    """Leave nothing of an unfinished upload behind: the multipart upload's parts (S3's
    AbortMultipartUpload) and the pending chunks."""
    client, bucket = _client_and_bucket()
    if upload.multipart_id and not upload.storage_name:
        try:
            _s3("abort the multipart upload", client.abort_multipart_upload, Bucket=bucket, Key=_key(final_name),
                UploadId=upload.multipart_id)
        except StorageFailed as exc:
            if exc.code != "NoSuchUpload":  # already aborted or completed: nothing is left
                raise
    _delete_keys([p["key"] for p in upload.pending])


def _delete_keys(keys: list[str]) -> None:
    if not keys:
        return
    client, bucket = _client_and_bucket()
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        _s3("delete pending chunks", client.delete_objects, Bucket=bucket,
            Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True})


def _delete_quietly(keys: list[str]) -> None:
    """After the commit the chunk is taken whatever happens here: a key left over is logged."""
    try:
        _delete_keys(keys)
    except StorageFailed as exc:
        log.warning("pending chunks %s were not deleted: %s", keys, exc)


def spool(stream: IO[bytes], out: IO[bytes], most: int) -> int:
    """Copy up to ``most`` bytes of ``stream`` into ``out``, a chunk at a time; returns how many."""
    written = 0
    while written < most:
        chunk = stream.read(min(COPY_CHUNK, most - written))
        if not chunk:
            break
        out.write(chunk)
        written += len(chunk)
    return written
