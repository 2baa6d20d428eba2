from django.contrib import admin
from django.urls import include, path, re_path

from api.health import healthz
from api.metrics import metrics
from api.spa import spa_index

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),  # Prometheus (docs/metrics.md)
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    # /v2 is the serving app (serving/), routed beside Django by config/asgi.py: Django answers 404.
    # Everything else is the single-page app, which routes on the client.
    re_path(r"^(?!api/|admin/|static/|media/|ws/|v2/|v2$).*$", spa_index, name="spa"),
]

# JSON under /api/ (api/exceptions.py), Django's own page elsewhere.
handler404 = "api.exceptions.not_found"
