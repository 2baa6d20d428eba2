from django.urls import path

from api.projects.consumers import ProjectEventsConsumer
from api.runs.consumers import RunEventsConsumer

websocket_urlpatterns = [
    path("ws/projects/<int:project_id>/", ProjectEventsConsumer.as_asgi()),
    path("ws/runs/<int:run_id>/", RunEventsConsumer.as_asgi()),
]
