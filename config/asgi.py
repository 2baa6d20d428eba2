"""ASGI entry point: HTTP through Django, WebSockets through Channels.

``/v2/models/...`` (the inference endpoints) is served by ``api.asgi_inference.FastInferenceApp``:
the same async views, called without Django's full middleware chain and request signals, which
cost far more than the model itself (see that class for what it keeps). Everything else, and any
/v2/ path that is not one of its async views, goes to Django as before.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from api.asgi_inference import FastInferenceApp  # noqa: E402
from api.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": FastInferenceApp(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
