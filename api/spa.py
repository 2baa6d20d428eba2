"""Serves the built single-page app for any path the server does not own."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

_MISSING = """<!doctype html><title>Visual Model Builder</title>
<h1>Visual Model Builder</h1><p>The frontend is not built. Run <code>make run</code>
(or <code>npm --prefix frontend run build</code>).</p>"""


@require_safe
@ensure_csrf_cookie
def spa_index(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    if not index.is_file():
        return HttpResponse(_MISSING, status=503)
    return HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
