"""ASGI entry point: HTTP through Django, WebSockets through Channels.

``/v2`` (the Open Inference Protocol) is the serving app (``serving/``, no Django in its request
path), mounted here by ``config.serving.ServingRouter``; compose's ``serving`` service runs the same
app alone. Everything else goes to Django.

Every HTTP request first passes ``config.asgi_limits``: bodies over their limit are refused
before Django reads them (Django's handler reads the whole body before any middleware runs).
"""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from api.routing import websocket_urlpatterns  # noqa: E402
from config import asgi_limits  # noqa: E402
from config.serving import ServingRouter  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": asgi_limits.from_settings(ServingRouter(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far (Django, the layer registry, torch's modules) lives as long as the
# process: move it out of the collector's reach, so a full collection during a request scans only
# what requests made (docs/bench/canvas.md). The collection thresholds stay CPython's: raising
# them (tried: 50,000) let database connections that only the collector frees pile up under load.
gc.freeze()
