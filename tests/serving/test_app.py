"""The serving app over HTTP: keys, versions, limits, refusals and headers, with the deployment
index the domain writes. Unknown names and deployed ones without a valid key answer alike."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.test_deploy import _deploy, _infer_body
from tests.serving_client import ServingServer, start

pytestmark = pytest.mark.django_db(transaction=True)


def _infer(server: ServingServer, key: str | None, name: str = "digits", **kwargs: Any) -> Any:
    return server.request("POST", f"/v2/models/{name}/infer", json.dumps(_infer_body()).encode(),
                          {"Content-Type": "application/json", **kwargs.pop("headers", {})}, key, **kwargs)


def test_serves_every_path_with_the_security_headers(api: APIClient, model: dict, server: ServingServer) -> None:
    deployment, key = _deploy(api, model["id"])
    answer = _infer(server, key)
    assert answer.status_code == 200, answer.content
    assert answer.json()["outputs"][0]["shape"] == [2, 10]
    assert answer["content-type"] == "application/json" and answer["x-frame-options"] == "DENY"
    assert answer["x-content-type-options"] == "nosniff" and int(answer["content-length"]) == len(answer.content)
    meta = server.request("GET", "/v2/models/digits", key=key)
    assert meta.status_code == 200 and meta.json()["name"] == "digits"
    assert server.request("GET", f"/v2/models/digits/versions/{deployment['version']}/ready", key=key).status_code == 200
    wrong = server.request("GET", "/v2/models/digits/versions/999", key=key)
    assert wrong.status_code == 404 and wrong.json()["field"] == "version"
    assert server.request("GET", "/v2/health/live").json() == {"live": True}
    assert "binary_tensor_data" in server.request("GET", "/v2/").json()["extensions"]
    assert server.request("POST", "/v2/health/live").status_code == 405
    assert server.request("GET", "/v2/models/digits/infer", key=key).json()["field"] == "method"
    unknown_path = server.request("GET", "/v2/nothing/here")
    assert unknown_path.status_code == 404 and unknown_path.json()["field"] == "path"


def test_unknown_names_and_wrong_keys_answer_alike(api: APIClient, model: dict, server: ServingServer) -> None:
    _a, key_a = _deploy(api, model["id"], "digits-a")
    b, key_b = _deploy(api, model["id"], "digits-b")
    assert _infer(server, key_a, "digits-a").status_code == 200 and _infer(server, key_b, "digits-b").status_code == 200
    for bad in (None, "vmb_wrong", key_b, key_a[:-1]):
        deployed = _infer(server, bad, "digits-a")
        assert deployed.status_code == 401 and deployed.json()["field"] == "authorization"
        assert "Bearer" in deployed["www-authenticate"]
        # The same status and body for a name nobody deployed, whatever key is sent.
        nobody = _infer(server, bad, "nobody")
        assert (nobody.status_code, nobody.content.replace(b"nobody", b"digits-a")) == (401, deployed.content)
        assert server.request("GET", "/v2/models/nobody", key=bad).status_code == 401
    new = api.post(f"/api/v1/deployments/{b['id']}/keys/", {"name": "ci"}, format="json").json()
    assert _infer(server, new["api_key"], "digits-b").status_code == 200
    revoked = api.post(f"/api/v1/deployments/{b['id']}/keys/{new['key']['id']}/revoke/")
    assert revoked.status_code == 200
    assert _infer(server, new["api_key"], "digits-b").status_code == 401  # at once: the index was rewritten
    assert _infer(server, key_b, "digits-b").status_code == 200
    assert api.delete(f"/api/v1/deployments/{b['id']}/").status_code == 200
    gone = _infer(server, key_b, "digits-b")
    assert gone.status_code == 401 and gone.content == _infer(server, key_b, "never-deployed").content.replace(
        b"never-deployed", b"digits-b")


def test_body_limits_and_bad_bodies(api: APIClient, model: dict, server: ServingServer, settings: Any,
                                    tmp_path: Any) -> None:
    from domain.deploy import serving as deploy_serving
    from domain.deploy.models import Deployment

    deployment, key = _deploy(api, model["id"])
    assert _infer(server, key).status_code == 200
    bad_json = server.request("POST", "/v2/models/digits/infer", b"{not json", key=key)
    assert bad_json.status_code == 400 and bad_json.json()["field"] == "body"
    deep = server.request("POST", "/v2/models/digits/infer", b"[" * 100_000 + b"]" * 100_000, key=key)
    assert deep.status_code == 400 and deep.json()["field"] == "body"
    nope = server.request("POST", "/v2/models/digits/infer", b"{}", {"Content-Length": "nope"}, key)
    assert nope.status_code == 400
    payload = json.dumps(_infer_body()).encode()
    small = start(tmp_path / "models", max_body_bytes=1000)
    try:
        declared = small.request("POST", "/v2/models/digits/infer", payload, key=key)
        assert declared.status_code == 413 and "limit is 1000" in declared.json()["detail"]
        assert small.request("POST", "/v2/models/digits/infer", payload, key=key, chunks=4).status_code == 413
    finally:
        small.stop()
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=100)
    deploy_serving.publish()  # a bulk update sends no signal
    too_big = _infer(server, key)
    assert too_big.status_code == 413 and too_big.json()["field"] == "body"
    assert _infer(server, key, chunks=3).status_code == 413  # no Content-Length: counted while it streams
    Deployment.objects.filter(pk=deployment["id"]).update(max_body_bytes=10**6, rate_limit_per_minute=1)
    deploy_serving.publish()
    limited = _infer(server, key)
    assert limited.status_code == 429 and limited.json()["field"] == "rate"


def test_checks_the_host(api: APIClient, model: dict, server: ServingServer) -> None:
    _deployment, key = _deploy(api, model["id"])
    refused = _infer(server, key, headers={"Host": "evil.example"})
    assert refused.status_code == 400 and refused.json()["field"] == "host"
    assert server.request("GET", "/v2/health/ready", headers={"Host": "10.0.0.7:8000"}).status_code == 200  # probes


def test_https_redirect_and_hsts_behind_a_tls_proxy(api: APIClient, model: dict, settings: Any, tmp_path: Any) -> None:
    _deployment, key = _deploy(api, model["id"])
    secure = start(tmp_path / "models", ssl_redirect=True, hsts_seconds=3600,
                   proxy_ssl_header=("x-forwarded-proto", "https"))
    try:
        plain = _infer(secure, key)
        assert plain.status_code == 301 and plain["location"] == "https://testserver/v2/models/digits/infer"
        proxied = _infer(secure, key, headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200 and proxied["strict-transport-security"] == "max-age=3600"
        assert secure.request("GET", "/v2/health/live").status_code == 200  # probes are not redirected
    finally:
        secure.stop()


def test_a_fast_model_runs_on_the_event_loop_and_a_large_batch_in_a_thread(
        api: APIClient, model: dict, server: ServingServer, monkeypatch: Any) -> None:
    """The first call measures the model in a worker thread; once it is known to answer faster
    than a thread hop, single requests run inline; a batch that would take longer goes back to a
    thread. The outputs are the same either way."""
    import numpy as np

    from serving import app as serving_app

    threaded: list[int] = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(fn: Any, *args: Any) -> Any:
        if getattr(fn, "__name__", "") == "_timed_infer":
            threaded.append(len(args[2][0]))
        return await real_to_thread(fn, *args)

    monkeypatch.setattr(serving_app.asyncio, "to_thread", counting_to_thread)
    deployment, key = _deploy(api, model["id"])
    model_key = f"{deployment['id']}:{deployment['version']}"
    first = _infer(server, key).json()["outputs"][0]["data"]
    assert threaded == [2] and model_key in server.app.per_sample_s
    server.app.per_sample_s[model_key] = 1e-6  # as a tiny model measures
    second = _infer(server, key).json()["outputs"][0]["data"]
    assert threaded == [2]  # inline this time
    assert np.allclose(first, second)
    server.app.per_sample_s[model_key] = serving_app.INLINE_BELOW_S
    assert _infer(server, key).status_code == 200
    assert threaded == [2, 2]  # two samples at the limit's per-sample time: back to a thread


def test_the_web_process_routes_v2_to_the_serving_app() -> None:
    """config/asgi.py: /v2 goes to the serving app (no Django view answers it), the rest to Django."""
    from asgiref.sync import async_to_sync

    from config.asgi import application

    def call(path: str) -> tuple[int, bytes]:
        # Host: localhost, allowed before and after pytest-django adds testserver: config.asgi may
        # have been imported (and the serving app's settings read) while collecting other tests.
        sent: list[dict] = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}

        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client stays connected (Django listens for a disconnect)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        async_to_sync(application)(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    assert call("/v2/health/live") == (200, b'{"live": true}')
    status, body = call("/v2/models/digits")
    assert status == 401 and json.loads(body)["field"] == "authorization", body
    assert call("/v2")[0] == 200
    status, body = call("/healthz")  # Django's (503 when this test has no worker running)
    assert status in (200, 503) and b'"field"' not in body
    assert call("/v2x")[0] != 401  # only /v2 and what is under it
