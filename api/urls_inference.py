"""The Open Inference Protocol (KServe v2), included at /v2/ by config/urls.py."""
from django.urls import path

from . import views_inference as v

urlpatterns = [
    path("", v.server_metadata, name="v2-server"),
    path("health/live", v.health_live, name="v2-live"),
    path("health/ready", v.health_ready, name="v2-ready"),
    path("models/<slug:name>", v.model_metadata_view, name="v2-model"),
    path("models/<slug:name>/ready", v.model_ready, name="v2-model-ready"),
    path("models/<slug:name>/infer", v.model_infer, name="v2-model-infer"),
    path("models/<slug:name>/predict", v.model_predict, name="v2-model-predict"),
    path("models/<slug:name>/versions/<str:version>", v.model_metadata_view, name="v2-model-version"),
    path("models/<slug:name>/versions/<str:version>/ready", v.model_ready, name="v2-model-version-ready"),
    path("models/<slug:name>/versions/<str:version>/infer", v.model_infer, name="v2-model-version-infer"),
    path("models/<slug:name>/versions/<str:version>/predict", v.model_predict, name="v2-model-version-predict"),
]
