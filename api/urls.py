"""/api/v1/: the schema and its docs, accounts, and each domain's routes (api/<domain>/urls.py)."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import views_auth

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
    path("auth/unlock/", views_auth.UnlockView.as_view(), name="auth-unlock"),
    path("", include("api.datasets.urls")),
    path("", include("api.runs.urls")),
    path("", include("api.deploy.urls")),
    path("", include("api.market.urls")),
    # Last: its router's root view matches the empty path.
    path("", include("api.projects.urls")),
]
