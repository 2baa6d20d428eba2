from django.contrib import admin
from django.urls import include, path, re_path

from api.health import healthz
from api.spa import spa_index

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("v2/", include("api.urls_inference")),
    # Everything else is the single-page app, which routes on the client.
    re_path(r"^(?!api/|admin/|static/|media/|ws/).*$", spa_index, name="spa"),
]
