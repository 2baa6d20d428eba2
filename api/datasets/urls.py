"""Dataset endpoints, included by api/urls.py (under /api/v1/)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from api.datasets.uploads import UploadCollectionView, UploadDetailView
from api.datasets.views import DatasetVersionViewSet, DatasetViewSet

# SimpleRouter: no API root view that would shadow the main router's.
router = SimpleRouter()
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("dataset-versions", DatasetVersionViewSet, basename="dataset-version")

urlpatterns = [
    path("uploads/", UploadCollectionView.as_view(), name="uploads"),
    path("uploads/<uuid:pk>/", UploadDetailView.as_view(), name="upload"),
    *router.urls,
]
