from django.urls import path

from .consumers import ProjectEventsConsumer
from .consumers_runs import RunEventsConsumer

websocket_urlpatterns = [
    path("ws/projects/<int:project_id>/", ProjectEventsConsumer.as_asgi()),
    path("ws/runs/<int:run_id>/", RunEventsConsumer.as_asgi()),
]
