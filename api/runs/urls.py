"""Training run endpoints, included by api/urls.py (under /api/v1/)."""
from rest_framework.routers import SimpleRouter

from api.runs.views import TrainingRunViewSet

# SimpleRouter: no API root view that would shadow the main router's.
router = SimpleRouter()
router.register("runs", TrainingRunViewSet, basename="run")

urlpatterns = router.urls
