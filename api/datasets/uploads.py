"""Resumable uploads over the tus 1.0.0 protocol (core, creation, termination and expiration extensions).

``POST /api/v1/uploads/`` with ``Upload-Length`` creates an upload and answers its URL in
``Location``; ``HEAD`` on it tells the offset to resume from; ``PATCH`` with
``Content-Type: application/offset+octet-stream`` and ``Upload-Offset`` appends one chunk, which
is streamed to the staging folder, or to an S3 multipart upload with object storage, never held in
memory; ``DELETE`` terminates it. An unfinished upload answers ``Upload-Expires``: no chunk by
then and it is deleted (``VMB_UPLOAD_EXPIRE_HOURS``). Any tus client works. The offset and staging state are in the
database (``domain.datasets.services.append_chunk``), so any web replica takes any chunk.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.http import http_date
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from api.datasets.serializers import UploadSerializer
from api.schema import ErrorSerializer
from domain.datasets import services as dataset_services
from domain.datasets.models import Upload

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096
TUS_HEADERS = [OpenApiParameter("Tus-Resumable", str, OpenApiParameter.HEADER, required=True, enum=[TUS_VERSION])]
# The tus statuses every view below answers with ``{"detail": ...}`` (``_answer``).
_TUS_ERRORS = {
    400: "A tus header is missing or malformed.",
    404: "No such upload of yours.",
    409: "Upload-Offset is not the upload's offset, or another request is writing a chunk of it: HEAD it and "
         "resume from there.",
    410: "The upload's staged bytes are not in this server's staging folder (replicas must share it).",
    412: f"The Tus-Resumable header is not {TUS_VERSION}.",
    413: "Over Upload-Length, the chunk limit, the upload limit or your quota.",
    415: f"A chunk's Content-Type is not {OFFSET_CONTENT_TYPE}.",
    502: "The object store refused or failed to store the chunk (the detail names its error); resend it.",
}


def _tus_errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=_TUS_ERRORS[code]) for code in codes}


def _answer(status: int, detail: str | None = None, **headers: Any) -> HttpResponse:
    response: HttpResponse = JsonResponse({"detail": detail}, status=status) if detail else HttpResponse(status=status)
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = str(value)
    return response


def _capabilities() -> HttpResponse:
    return _answer(204, Tus_Version=TUS_VERSION, Tus_Extension=TUS_EXTENSIONS,
                   Tus_Max_Size=settings.DATASET_UPLOAD_MAX_BYTES)


def _version_problem(request: Request) -> HttpResponse | None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _answer(412, f"the Tus-Resumable header must be {TUS_VERSION}", Tus_Version=TUS_VERSION)
    return None


def parse_metadata(raw: str) -> dict[str, str]:
    """The ``Upload-Metadata`` header: comma-separated ``key base64(value)`` pairs."""
    if len(raw) > MAX_METADATA_CHARS:
        raise ValueError(f"is longer than {MAX_METADATA_CHARS} characters")
    values: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, encoded = pair.partition(" ")
        if not key.isascii() or not key.isprintable() or key in values:
            raise ValueError(f"has a bad or repeated key {key!r}")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8") if encoded else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"value of {key!r} is not base64-encoded UTF-8") from exc
    return values


def _expiry(upload: Upload) -> dict[str, str]:
    """The tus expiration header of an unfinished upload (none once it is complete)."""
    expires = dataset_services.upload_expires(upload)
    return {"Upload_Expires": http_date(expires.timestamp())} if expires else {}


def _header_int(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


class UploadCollectionView(APIView):
    """``POST`` creates an upload (tus creation); ``GET`` lists yours with the quota."""

    @extend_schema(responses={204: None})
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return _capabilities()

    @extend_schema(operation_id="uploads_list", request=None, responses={200: inline_serializer("UploadList", {
        "quota_bytes": serializers.IntegerField(), "used_bytes": serializers.IntegerField(),
        "max_upload_bytes": serializers.IntegerField(), "max_chunk_bytes": serializers.IntegerField(),
        "results": UploadSerializer(many=True, help_text="Your newest 100 uploads."),
    })})
    def get(self, request: Request) -> HttpResponse:
        uploads = Upload.objects.filter(owner=request.user)[:100]
        return JsonResponse({"quota_bytes": settings.DATASET_USER_QUOTA_BYTES,
                             "used_bytes": dataset_services.quota_used(request.user),
                             "max_upload_bytes": settings.DATASET_UPLOAD_MAX_BYTES,
                             "max_chunk_bytes": settings.DATASET_UPLOAD_CHUNK_MAX_BYTES,
                             "results": UploadSerializer(uploads, many=True).data})

    @extend_schema(request=None, responses={201: UploadSerializer, **_tus_errors(400, 412, 413)}, parameters=[
        *TUS_HEADERS, OpenApiParameter("Upload-Length", int, OpenApiParameter.HEADER, required=True),
        OpenApiParameter("Upload-Metadata", str, OpenApiParameter.HEADER, description="filename <base64>")])
    def post(self, request: Request) -> HttpResponse:
        if problem := _version_problem(request):
            return problem
        if request.headers.get("Upload-Defer-Length"):
            return _answer(400, "Upload-Defer-Length is not supported; send Upload-Length")
        length = _header_int(request, "Upload-Length")
        if length is None:
            return _answer(400, "Upload-Length: a whole number of bytes is required")
        try:
            metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        except ValueError as exc:
            return _answer(400, f"Upload-Metadata {exc}")
        try:
            upload = dataset_services.create_upload(
                request.user, length=length, filename=metadata.get("filename", ""), metadata=metadata
            )
        except dataset_services.UploadError as exc:
            return _answer(exc.status, exc.message)
        response = JsonResponse(UploadSerializer(upload).data, status=201)
        response["Location"] = request.build_absolute_uri(f"{settings.DATASET_UPLOAD_PREFIX}{upload.pk}/")
        response["Tus-Resumable"] = TUS_VERSION
        for name, value in _expiry(upload).items():
            response[name.replace("_", "-")] = value
        return response


class UploadDetailView(APIView):
    """``HEAD`` the offset, ``PATCH`` a chunk, ``DELETE`` (terminate); ``GET`` the progress as JSON."""

    @extend_schema(responses={204: None})
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return _capabilities()

    def _upload(self, request: Request, pk: Any) -> Upload | None:
        return Upload.objects.filter(pk=pk, owner=request.user).first()

    @extend_schema(responses={200: UploadSerializer})
    def get(self, request: Request, pk: Any) -> HttpResponse:
        upload = self._upload(request, pk)
        if upload is None:
            return _answer(404, "no such upload")
        return JsonResponse(UploadSerializer(upload).data)

    @extend_schema(parameters=TUS_HEADERS, responses={200: None, 404: None, 412: None})
    def head(self, request: Request, pk: Any) -> HttpResponse:
        if problem := _version_problem(request):
            return problem
        upload = self._upload(request, pk)
        if upload is None:
            return _answer(404)
        return _answer(200, Upload_Offset=upload.offset, Upload_Length=upload.length, **_expiry(upload))

    @extend_schema(request={OFFSET_CONTENT_TYPE: bytes},
                   responses={204: None, **_tus_errors(400, 404, 409, 410, 412, 413, 415, 502)}, parameters=[
        *TUS_HEADERS, OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True)])
    def patch(self, request: Request, pk: Any) -> HttpResponse:
        if problem := _version_problem(request):
            return problem
        if request.content_type.split(";")[0].strip() != OFFSET_CONTENT_TYPE:
            return _answer(415, f"Content-Type must be {OFFSET_CONTENT_TYPE}")
        offset = _header_int(request, "Upload-Offset")
        if offset is None:
            return _answer(400, "Upload-Offset: a whole number of bytes is required")
        length = _header_int(request, "Content-Length")
        if length is not None and length > settings.DATASET_UPLOAD_CHUNK_MAX_BYTES:
            return _answer(413, f"a chunk is at most {settings.DATASET_UPLOAD_CHUNK_MAX_BYTES} bytes")
        try:
            upload = dataset_services.append_chunk(
                request.user, pk, offset=offset, length=length, stream=request._request,
            )
        except Upload.DoesNotExist:
            return _answer(404, "no such upload")
        except dataset_services.UploadError as exc:
            return _answer(exc.status, exc.message)
        return _answer(204, Upload_Offset=upload.offset, **_expiry(upload))

    @extend_schema(parameters=TUS_HEADERS, responses={204: None, **_tus_errors(404, 412)})
    def delete(self, request: Request, pk: Any) -> HttpResponse:
        if problem := _version_problem(request):
            return problem
        try:
            dataset_services.terminate_upload(request.user, pk)
        except Upload.DoesNotExist:
            return _answer(404, "no such upload")
        return _answer(204)
