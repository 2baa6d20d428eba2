"""Compression, export and deployment endpoints, included by api/urls.py."""
urlpatterns: list = []
