"""Refuse oversized request bodies before anything reads them."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.API_MAX_BODY_BYTES
        # Upload chunks are streamed to disk by their view and have their own, larger limit.
        if request.path.startswith(settings.DATASET_UPLOAD_PREFIX):
            limit = settings.DATASET_UPLOAD_CHUNK_MAX_BYTES
        elif request.path in settings.MARKET_UPLOAD_PATHS:  # whole bundles and weights files
            limit = settings.MARKET_UPLOAD_MAX_BYTES
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse({"detail": f"Content-Length {raw!r} is not a number."}, status=400)
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body is {length} bytes; the limit is {limit} bytes."},
                status=413,
            )
        return self.get_response(request)
