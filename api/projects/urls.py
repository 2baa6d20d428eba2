"""Projects and their members, graphs and their versions, and the graph core's catalogue."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from . import graph_core
from .graphs import GraphVersionViewSet, GraphViewSet
from .views import MembershipViewSet, ProjectViewSet

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("graphs", GraphViewSet, basename="graph")

members = MembershipViewSet.as_view({"get": "list", "post": "create"})
member = MembershipViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
versions = GraphVersionViewSet.as_view({"get": "list", "post": "create"})
version = GraphVersionViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("projects/<int:project_pk>/members/", members, name="project-members"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    path("layers/", graph_core.LayerListView.as_view(), name="layers"),
    path("templates/", graph_core.TemplateListView.as_view(), name="templates"),
    path("templates/<str:template_id>/", graph_core.TemplateDetailView.as_view(), name="template"),
    path("graphs/validate/", graph_core.ValidateView.as_view(), name="graph-validate"),
    path("graphs/from-template/", graph_core.GraphFromTemplateView.as_view(), name="graph-from-template"),
    path("graphs/from-torchvision/", graph_core.GraphFromTorchvisionView.as_view(),
         name="graph-from-torchvision"),
    path("graphs/<int:graph_pk>/versions/<int:pk>/source/", graph_core.VersionSourceView.as_view(),
         name="graph-version-source"),
    path("graphs/<int:graph_pk>/versions/", versions, name="graph-versions"),
    path("graphs/<int:graph_pk>/versions/<int:pk>/", version, name="graph-version"),
    *router.urls,
]
