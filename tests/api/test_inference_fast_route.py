"""The /v2/ route of config/asgi.py (``FastInferenceApp``): the same views without Django's full
handler, with verified keys cached per process. Revocation and undeploy apply at once in this
process; keys, rate and size limits are checked as on the normal path."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from tests.api.test_deploy import _deploy, _infer_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _models_dir(settings: Any, tmp_path: Path) -> None:
    settings.DEPLOY_DIR = tmp_path / "models"
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"


@pytest.fixture
def model(api: APIClient, alice: Any) -> dict:
    from tests.deploy_factories import make_artifact

    artifact = make_artifact(alice, "concat")
    response = api.post("/api/v1/models/", {"run": artifact.run_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _call(method: str, path: str, key: str | None = None, body: bytes = b"",
          headers: dict[str, str] | None = None, chunks: int = 1, app: Any = None,
          scheme: str = "http", repeated: tuple[tuple[str, str], ...] = (), query: bytes = b"",
          ) -> tuple[int, dict[str, str], bytes]:
    from config.asgi import application

    sent: list[dict] = []
    all_headers = {"host": "testserver", "content-type": "application/json", **(headers or {})}
    if "content-length" not in all_headers and chunks == 1:
        all_headers["content-length"] = str(len(body))
    if key:
        all_headers["authorization"] = f"Bearer {key}"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": scheme,
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(k.encode(), v.encode()) for k, v in [*all_headers.items(), *repeated]],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected (Django listens for a disconnect)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async_to_sync(app or application)(scope, receive, send)
    start = sent[0]
    return (start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def _infer(key: str | None, name: str = "digits", **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    return _call("POST", f"/v2/models/{name}/infer", key, json.dumps(_infer_body()).encode(), **kwargs)


def test_fast_route_serves_and_caches_the_verified_key(api: APIClient, model: dict) -> None:
    from pipelines.serving.keycache import keys

    deployment, key = _deploy(api, model["id"])
    status, headers, body = _infer(key)
    assert status == 200, body
    assert json.loads(body)["outputs"][0]["shape"] == [2, 10]
    assert headers["content-type"] == "application/json" and headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff" and int(headers["content-length"]) == len(body)
    assert len(keys) >= 1
    assert _infer(key)[0] == 200
    meta = _call("GET", "/v2/models/digits", key)
    assert meta[0] == 200 and json.loads(meta[2])["name"] == "digits"
    assert _call("GET", f"/v2/models/digits/versions/{deployment['version']}/ready", key)[0] == 200
    assert _call("GET", "/v2/models/digits/versions/999", key)[0] == 404
    # Not async views, or not /v2/models/: Django as before.
    assert json.loads(_call("GET", "/v2/health/live")[2]) == {"live": True}


def test_fast_route_refuses_wrong_revoked_and_other_keys(api: APIClient, model: dict) -> None:
    _a, key_a = _deploy(api, model["id"], "digits-a")
    b, key_b = _deploy(api, model["id"], "digits-b")
    assert _infer(key_a, "digits-a")[0] == 200 and _infer(key_b, "digits-b")[0] == 200  # both cached now
    for bad in (None, "vmb_wrong", key_b, key_a[:-1]):
        status, headers, body = _infer(bad, "digits-a")
        assert status == 401 and json.loads(body)["field"] == "authorization" and "Bearer" in headers["www-authenticate"]
    new = api.post(f"/api/v1/deployments/{b['id']}/keys/", {"name": "ci"}, format="json").json()
    assert _infer(new["api_key"], "digits-b")[0] == 200
    revoked = api.post(f"/api/v1/deployments/{b['id']}/keys/{new['key']['id']}/revoke/")
    assert revoked.status_code == 200
    assert _infer(new["api_key"], "digits-b")[0] == 401  # at once, though it was cached
    assert _infer(key_b, "digits-b")[0] == 200
    assert api.delete(f"/api/v1/deployments/{b['id']}/").status_code == 200
    assert _infer(key_b, "digits-b")[0] == 404  # undeployed: at once


def test_fast_route_keeps_size_and_rate_limits(api: APIClient, model: dict, settings: Any) -> None:
    from builder.deploy_models import Deployment
    from pipelines.serving.keycache import keys

    deployment, key = _deploy(api, model["id"])
    assert _infer(key)[0] == 200
    status, _, body = _call("POST", "/v2/models/digits/infer", key, b"{not json")
    assert status == 400 and json.loads(body)["field"] == "body"
    status, _, body = _call("POST", "/v2/models/digits/infer", key, b"{}", headers={"content-length": "nope"})
    assert status == 400
    settings.API_MAX_BODY_BYTES = 1000
    payload = json.dumps(_infer_body()).encode()
    assert _call("POST", "/v2/models/digits/infer", key, payload)[0] == 413  # declared
    assert _call("POST", "/v2/models/digits/infer", key, payload, chunks=4)[0] == 413  # streamed, undeclared
    settings.API_MAX_BODY_BYTES = 8 * 1024 * 1024
    # A change made by a raw UPDATE (no ORM save) reaches a cached key within the TTL; clear to see it now.
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=100)
    keys.invalidate(deployment["id"])
    status, _, body = _infer(key)
    assert status == 413 and json.loads(body)["field"] == "body"
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=10**6, rate_limit_per_minute=1)
    keys.invalidate(deployment["id"])
    assert _infer(key)[0] == 429


def test_fast_route_checks_the_host(api: APIClient, model: dict) -> None:
    _deployment, key = _deploy(api, model["id"])
    assert _infer(key, headers={"host": "evil.example"})[0] == 400


def test_key_cache_ttl_and_generation() -> None:
    import time

    from pipelines.serving.keycache import KeyCache

    cache = KeyCache(ttl_s=0.05)
    generation = cache.generation()
    cache.put("m", "d" * 64, 1, "deployment", generation)
    assert cache.get("m", "d" * 64) == "deployment" and cache.get("m", "e" * 64) is None
    assert cache.get("other", "d" * 64) is None
    time.sleep(0.06)
    assert cache.get("m", "d" * 64) is None
    stale = cache.generation()
    cache.invalidate(1)
    cache.put("m", "d" * 64, 1, "deployment", stale)  # looked up before the invalidation: not kept
    assert cache.get("m", "d" * 64) is None


def test_a_fast_model_runs_on_the_event_loop_and_a_large_batch_in_a_thread(api: APIClient, model: dict,
                                                                           monkeypatch: Any) -> None:
    """The first call measures the model in a worker thread; once it is known to answer faster
    than a thread hop, single requests run inline; a batch that would take longer goes back to a
    thread. The outputs are the same either way."""
    import numpy as np

    from api import views_inference

    threaded: list[int] = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(fn: Any, *args: Any) -> Any:
        threaded.append(len(args[2][0]) if fn is views_inference._timed_infer else -1)
        return await real_to_thread(fn, *args)

    monkeypatch.setattr(views_inference.asyncio, "to_thread", counting_to_thread)
    deployment, key = _deploy(api, model["id"])
    per_sample = f"{deployment['id']}:{deployment['version']}"
    first = json.loads(_infer(key)[2])["outputs"][0]["data"]
    assert threaded == [2] and per_sample in views_inference._per_sample_s
    monkeypatch.setitem(views_inference._per_sample_s, per_sample, 1e-6)  # as a tiny model measures
    second = json.loads(_infer(key)[2])["outputs"][0]["data"]
    assert threaded == [2]  # inline this time
    assert np.allclose(first, second)
    monkeypatch.setitem(views_inference._per_sample_s, per_sample, views_inference.INLINE_BELOW_S)
    assert _infer(key)[0] == 200
    assert threaded == [2, 2]  # two samples at the limit's per-sample time: back to a thread


@pytest.fixture
def paths(monkeypatch: Any) -> list[str]:
    """Which path answered each request: "view" (the async views) or "lean" (``LeanInfer``)."""
    from api.asgi_inference import FastInferenceApp, LeanInfer

    taken: list[str] = []
    real_respond, real_serve = FastInferenceApp._respond, LeanInfer.serve

    async def respond(self: Any, *args: Any) -> Any:
        taken.append("view")
        return await real_respond(self, *args)

    async def serve(self: Any, *args: Any) -> Any:
        taken.append("lean")
        return await real_serve(self, *args)

    monkeypatch.setattr(FastInferenceApp, "_respond", respond)
    monkeypatch.setattr(LeanInfer, "serve", serve)
    return taken


def test_the_lean_path_answers_exactly_as_the_views(api: APIClient, model: dict, paths: list[str]) -> None:
    """Once a key is verified and the model loaded, infer requests skip Django's request; every
    answer (success, binary outputs, each refusal) is the one the views give, headers included,
    and each request is counted."""
    from pipelines.serving.keycache import keys

    deployment, key = _deploy(api, model["id"])
    bad_tensor = {"inputs": [{"name": "image", "shape": [1, 1, 8, 7], "datatype": "FP32", "data": [0.0] * 56}]}
    requests = [
        json.dumps(_infer_body()).encode(),
        json.dumps({**_infer_body(3), "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode(),
        b"{not json",
        json.dumps(bad_tensor).encode(),
        b"[]",
    ]
    for body in requests:
        keys.invalidate()  # the views answer, verify the key and cache it
        view = _call("POST", "/v2/models/digits/infer", key, body)
        lean = _call("POST", f"/v2/models/digits/versions/{deployment['version']}/infer", key, body)
        assert paths[-2:] == ["view", "lean"]
        assert lean == view, body
    assert [view[0] for view in (_call("POST", "/v2/models/digits/infer", key, b) for b in requests)] == [
        200, 200, 400, 400, 400]
    assert paths[-5:] == ["lean"] * 5
    detail = api.get(f"/api/v1/deployments/{deployment['id']}/").json()["metrics"]
    assert (detail["requests"], detail["errors"]) == (3 * len(requests), 3 * 3)


def test_what_the_lean_path_leaves_to_the_views(api: APIClient, model: dict, paths: list[str]) -> None:
    """Binary tensors, a wrong version, a repeated or missing header, an unknown host and a
    revoked key are all answered by the views (which know how to refuse them)."""
    import numpy as np

    from api import views_inference

    deployment, key = _deploy(api, model["id"])
    assert _infer(key)[0] == 200 and paths == ["view"]
    x = np.zeros((1, 1, 8, 8), dtype="<f4")
    raw = x.tobytes()
    header = json.dumps({"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    binary = _call("POST", "/v2/models/digits/infer", key, header + raw,
                   headers={"inference-header-content-length": str(len(header))})
    assert binary[0] == 200 and paths[-1] == "view"
    assert _call("POST", "/v2/models/digits/versions/999/infer", key, b"{}")[0] == 404 and paths[-1] == "view"
    assert _infer(key, headers={"host": "evil.example"})[0] == 400 and paths[-1] == "view"
    assert _infer(None, headers={"x-api-key": key})[0] == 200 and paths[-1] == "lean"
    assert _infer(key, chunks=3)[0] == 200 and paths[-1] == "view"  # no Content-Length: streamed
    new = api.post(f"/api/v1/deployments/{deployment['id']}/keys/", {"name": "ci"}, format="json").json()
    assert _infer(new["api_key"])[0] == 200 and _infer(new["api_key"])[0] == 200 and paths[-1] == "lean"
    api.post(f"/api/v1/deployments/{deployment['id']}/keys/{new['key']['id']}/revoke/")
    assert _infer(new["api_key"])[0] == 401 and paths[-1] == "view"
    views_inference.limiter.windows.clear()
    assert api.delete(f"/api/v1/deployments/{deployment['id']}/").status_code == 200
    assert _infer(key)[0] == 404 and paths[-1] == "view"


def test_the_lean_path_keeps_https_redirect_and_security_headers(api: APIClient, model: dict, settings: Any,
                                                                 paths: list[str]) -> None:
    """With production's settings (behind a TLS proxy): plain HTTP is redirected by Django, and the
    lean answers carry the same HSTS and other headers as the views'."""
    from api.asgi_inference import FastInferenceApp
    from config.asgi import django_asgi_app
    from pipelines.serving.keycache import keys

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    app = FastInferenceApp(django_asgi_app)  # middlewares read the settings when built
    _deployment, key = _deploy(api, model["id"])
    body = json.dumps(_infer_body()).encode()
    status, headers, _ = _call("POST", "/v2/models/digits/infer", key, body, app=app)
    assert status == 301 and headers["location"].startswith("https://")
    proxied = {"x-forwarded-proto": "https"}
    view = _call("POST", "/v2/models/digits/infer", key, body, headers=proxied, app=app)
    assert view[0] == 200 and view[1]["strict-transport-security"] == "max-age=3600"
    assert _call("POST", "/v2/models/digits/infer", key, body, headers=proxied, app=app) == view
    assert paths == ["view", "view", "lean"]
    assert _call("POST", "/v2/models/digits/infer", key, body, app=app)[0] == 301  # cached key, still plain HTTP
    assert paths[-1] == "view"
    direct = _call("POST", "/v2/models/digits/infer", key, body, app=app, scheme="https")
    assert direct == view and paths[-1] == "lean"
    keys.invalidate()


def _secure_app(settings: Any) -> Any:
    from api.asgi_inference import FastInferenceApp
    from config.asgi import django_asgi_app

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return FastInferenceApp(django_asgi_app)


@pytest.mark.parametrize("case", ["newline", "proxy_twice", "query", "understated", "upload_limit", "hosts"])
def test_odd_requests_get_the_views_answer(api: APIClient, model: dict, settings: Any, paths: list[str],
                                           case: str) -> None:
    """Requests the lean path could mistake (found in review): each gets the answer the views
    give, whether or not the key is cached."""
    from pipelines.serving.keycache import keys

    _deployment, key = _deploy(api, model["id"])
    body = json.dumps(_infer_body()).encode()
    path, kwargs = "/v2/models/digits/infer", {}
    if case == "newline":  # "$" would match before it; Django's routes don't
        path += "\n"
    elif case == "proxy_twice":  # Django reads the first of a repeated header
        kwargs = {"app": _secure_app(settings), "repeated": (("x-forwarded-proto", "http"), ("x-forwarded-proto", "https"))}
    elif case == "query":
        kwargs = {"query": b"\xff"}
    elif case == "understated":  # a body longer than its Content-Length: the views read it all
        kwargs = {"headers": {"content-length": "10"}, "chunks": 3}
    assert _infer(key, app=kwargs.get("app"), headers={"x-forwarded-proto": "https"})[0] == 200  # cached, loaded
    if case == "upload_limit":
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    elif case == "hosts":
        settings.ALLOWED_HOSTS = ["other.example"]
    warm = _call("POST", path, key, body, **kwargs)
    keys.invalidate()
    cold = _call("POST", path, key, body, **kwargs)
    assert paths[-1] != "lean"
    assert warm == cold
    assert warm[0] == {"newline": 404, "proxy_twice": 301, "query": 400, "understated": 200, "upload_limit": 413,
                       "hosts": 400}[case], warm
