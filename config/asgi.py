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
# No persistent database connections in the ASGI process, whatever the environment says: each
# request (and each Channels database call) closes its connection when it ends. A persistent one
# would be dropped with the request's context and hold a PostgreSQL slot until a garbage
# collection freed it (tests/test_asgi_connections.py).
os.environ["VMB_DB_CONN_MAX_AGE"] = "0"
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
# what requests made. And collect the youngest generation every 50,000 allocations rather than
# 700: validating a large graph (DenseNet-121) allocates some 100,000 objects, which at CPython's
# default set off a full collection in many such requests (docs/bench/canvas.md). Nothing the
# process holds needs the collector to be released promptly: database connections are closed at
# each request's end (above), files and sockets by their owners.
gc.freeze()
gc.set_threshold(50_000, 10, 10)
