"""Training run endpoints, included by api/urls.py."""
urlpatterns: list = []
