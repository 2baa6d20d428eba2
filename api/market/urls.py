"""Model market endpoints under /api/v1/market/, included by api/urls.py."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from api.market.views import (
    MarketBundleImportView,
    MarketEntryViewSet,
    MarketImportViewSet,
    MarketTorchvisionImportView,
    MarketVersionViewSet,
)

router = SimpleRouter()
router.register("market/entries", MarketEntryViewSet, basename="market-entry")
router.register("market/versions", MarketVersionViewSet, basename="market-version")
router.register("market/imports", MarketImportViewSet, basename="market-import-job")

urlpatterns = [
    path("market/import/", MarketBundleImportView.as_view(), name="market-import"),
    path("market/import-torchvision/", MarketTorchvisionImportView.as_view(), name="market-import-torchvision"),
    *router.urls,
]
