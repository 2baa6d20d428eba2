from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views_auth, views_graph_core
from .views_graphs import GraphVersionViewSet, GraphViewSet
from .views_projects import MembershipViewSet, ProjectViewSet

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("graphs", GraphViewSet, basename="graph")

members = MembershipViewSet.as_view({"get": "list", "post": "create"})
member = MembershipViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
versions = GraphVersionViewSet.as_view({"get": "list", "post": "create"})
version = GraphVersionViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("auth/csrf/", views_auth.CsrfView.as_view(), name="auth-csrf"),
    path("auth/signup/", views_auth.SignUpView.as_view(), name="auth-signup"),
    path("auth/login/", views_auth.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views_auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", views_auth.MeView.as_view(), name="auth-me"),
    path("auth/session/", views_auth.SessionView.as_view(), name="auth-session"),
    path("auth/token/", views_auth.TokenView.as_view(), name="auth-token"),
    path("projects/<int:project_pk>/members/", members, name="project-members"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="project-member"),
    path("layers/", views_graph_core.LayerListView.as_view(), name="layers"),
    path("templates/", views_graph_core.TemplateListView.as_view(), name="templates"),
    path("templates/<str:template_id>/", views_graph_core.TemplateDetailView.as_view(), name="template"),
    path("graphs/validate/", views_graph_core.ValidateView.as_view(), name="graph-validate"),
    path("graphs/from-template/", views_graph_core.GraphFromTemplateView.as_view(), name="graph-from-template"),
    path("graphs/from-torchvision/", views_graph_core.GraphFromTorchvisionView.as_view(),
         name="graph-from-torchvision"),
    path("graphs/<int:graph_pk>/versions/<int:pk>/source/", views_graph_core.VersionSourceView.as_view(),
         name="graph-version-source"),
    path("graphs/<int:graph_pk>/versions/", versions, name="graph-versions"),
    path("graphs/<int:graph_pk>/versions/<int:pk>/", version, name="graph-version"),
    path("", include("api.urls_datasets")),
    path("", include("api.urls_runs")),
    path("", include("api.urls_deploy")),
    path("", include("api.urls_market")),
    *router.urls,
]
