"""Compression, export and deployment endpoints, included by api/urls.py."""
from rest_framework.routers import SimpleRouter

from api.deploy.views import DeploymentViewSet, ModelExportViewSet, ModelVariantViewSet

router = SimpleRouter()
router.register("models", ModelVariantViewSet, basename="model-variant")
router.register("exports", ModelExportViewSet, basename="model-export")
router.register("deployments", DeploymentViewSet, basename="deployment")

urlpatterns = router.urls
