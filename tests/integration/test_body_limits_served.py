"""Request bodies against a real uvicorn serving config.asgi:application, started as `make run`
starts it (scripts/run.py's ``web_command``): how much the server process grows (psutil RSS of
that process, sampled every 10 ms while the request runs, peak minus the value before it).

Issue 15, finding 1: daphne read every body into memory before Django or authentication ran
(a 128 MiB multipart body grew it by 1.5 GiB). Now an anonymous request of any size may grow the
process by at most 64 MiB, and a 1 GiB authorised upload by at most 128 MiB.
"""
from __future__ import annotations

import base64
import http.client
import importlib.util
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
MiB = 1024**2
# django_db: so that the session sets the test database up; the data lives in the served process.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db]

_spec = importlib.util.spec_from_file_location("vmb_run", ROOT / "scripts" / "run.py")
assert _spec is not None and _spec.loader is not None
run_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_script)

BOUNDARY = b"vmb-boundary"
PART_HEAD = (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
             b"Content-Type: application/octet-stream\r\n\r\n")
PART_TAIL = b"\r\n--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="visibility"\r\n\r\nnope\r\n--' \
    + BOUNDARY + b"--\r\n"
MULTIPART = "multipart/form-data; boundary=" + BOUNDARY.decode()


class Server:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], token: str, session: str, log: Path) -> None:
        self.port, self.proc, self.token, self.session, self.log = port, proc, token, session, log
        self.process = psutil.Process(proc.pid)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)


class PeakRss:
    """The server's peak RSS growth while the ``with`` block runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.growth = 0

    def __enter__(self) -> PeakRss:
        self.before = self.server.rss()
        self.peak = self.before
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.server.rss())
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # what the server still holds once the request is over counts too
        self.running = False
        self.thread.join()
        self.growth = max(self.peak, self.server.rss()) - self.before
        print(f"peak RSS growth of the server: {self.growth / MiB:.1f} MiB")  # the figure, with -s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Server]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from rest_framework.authtoken.models import Token

    tmp = tmp_path_factory.mktemp("bodies")
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_user(username="uploader-bodies", password="correct-horse-battery")
        token = Token.objects.create(user=user).key
        session = SessionStore()
        session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
                        HASH_SESSION_KEY: user.get_session_auth_hash()})
        session.create()
        db = connection.settings_dict
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1", "REDIS_URL": settings.REDIS_URL,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "VMB_VAR_DIR": str(tmp / "var"), "MEDIA_ROOT": str(tmp / "media"), "TMPDIR": str(tmp),
        "VMB_UPLOAD_STAGING_DIR": str(tmp / "staging"), "VMB_MARKET_UPLOAD_MAX_BYTES": str(768 * MiB),
    })
    port = _free_port()
    log = tmp / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(run_script.web_command("127.0.0.1", str(port)), cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    served = Server(port, proc, token, f"{settings.SESSION_COOKIE_NAME}={session.session_key}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/layers/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        for _ in range(3):  # warm: imports, URL resolver, the first spooled body
            _send(served, "/api/v1/market/import/", 4 * MiB, chunked=False, token=token)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        with django_db_blocker.unblock():
            user.delete()


def _send(server: Server, path: str, size: int, *, chunked: bool, token: str | None = None,
          declare: bool = True) -> tuple[int, int]:
    """POST a multipart body of ``size`` bytes (streamed from one reused 1 MiB buffer), reading
    the answer while sending. Returns (status, bytes the server took before it answered)."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    answer = bytearray()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    body_length = len(PART_HEAD) + size + len(PART_TAIL)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {MULTIPART}"]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    elif declare:
        head.append(f"Content-Length: {body_length}")
    if token:
        head.append(f"Authorization: Token {token}")
    sent = 0
    zeros = bytes(MiB)

    def pieces() -> Iterator[bytes]:
        yield PART_HEAD
        for start in range(0, size, MiB):
            yield zeros[: min(MiB, size - start)]
        yield PART_TAIL

    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for piece in pieces():
            if answer:  # the server has answered: a client would stop here too
                break
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        reader.join(timeout=60 if not answer else 1)
    except OSError:  # the server closed the connection on the rest of the body
        reader.join(timeout=5)
    finally:
        sock.close()
    status_line = bytes(answer).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 "), (path, bytes(answer[:200]), server.log.read_text()[-2000:])
    return int(status_line.split()[1]), sent


@pytest.mark.parametrize(("path", "chunked", "expected"), [
    ("/api/v1/projects/", False, {413}),  # refused from the declared length: nothing read
    ("/api/v1/projects/", True, {413}),  # chunked: refused after the small limit
    ("/api/v1/market/import/", False, {401}),  # an upload route, without a login: no big body
    ("/api/v1/market/import/", True, {413}),
    ("/api/v1/uploads/0b7c53a4-6b43-4c2f-9a8e-1f4c0e8d2b11/", True, {413}),
    ("/v2/models/anything/infer", False, {413}),
    ("/v2/models/anything/infer", True, {401, 413}),  # the endpoint may refuse a keyless client first
    ("/no/such/path", False, {413}),
])
def test_an_anonymous_body_of_512_mib_grows_the_server_by_at_most_64_mib(
        server: Server, path: str, chunked: bool, expected: set[int]) -> None:
    with PeakRss(server) as rss:
        status, sent = _send(server, path, 512 * MiB, chunked=chunked)
    assert status in expected
    assert sent < 64 * MiB  # cut off early, not after the whole body
    assert rss.growth <= 64 * MiB, f"grew by {rss.growth / MiB:.1f} MiB"


def test_a_logged_in_client_gets_the_route_limit_not_more(server: Server) -> None:
    status, sent = _send(server, "/api/v1/market/import/", 800 * MiB, chunked=False, token=server.token)
    assert status == 413 and sent < 64 * MiB  # over VMB_MARKET_UPLOAD_MAX_BYTES (768 MiB) as declared
    status, _ = _send(server, "/api/v1/projects/", 64 * MiB, chunked=True, token=server.token)
    assert status == 413  # a login does not lift the limit of other paths


def test_a_512_mib_authorised_multipart_body_is_spooled_to_disk_not_memory(server: Server) -> None:
    # Its visibility field is bad, so the view answers 400 after the whole body was received and
    # parsed (spooled by Django's handler, the file part by its upload handler), before the view
    # itself would read the file.
    with PeakRss(server) as rss:
        status, sent = _send(server, "/api/v1/market/import/", 512 * MiB, chunked=True, token=server.token)
    assert status == 400 and sent > 512 * MiB
    assert rss.growth <= 128 * MiB, f"grew by {rss.growth / MiB:.1f} MiB"


def test_a_1_gib_tus_upload_grows_the_server_by_at_most_128_mib(server: Server) -> None:
    size, chunk = 1024 * MiB, 16 * MiB
    auth = {"Authorization": f"Token {server.token}", "Tus-Resumable": "1.0.0"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    # One byte more than is sent: the upload stays incomplete, so nothing is queued to ingest it.
    conn.request("POST", "/api/v1/uploads/", headers={
        **auth, "Upload-Length": str(size + 1), "Upload-Metadata": "filename " + base64.b64encode(b"big.zip").decode()})
    created = conn.getresponse()
    created.read()
    assert created.status == 201, created.status
    location = created.headers["Location"].split(str(server.port), 1)[1]
    payload = bytes(chunk)
    try:
        with PeakRss(server) as rss:
            for offset in range(0, size, chunk):
                conn.request("PATCH", location, body=payload, headers={
                    **auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
                answer = conn.getresponse()
                answer.read()
                assert answer.status == 204, (answer.status, server.log.read_text()[-2000:])
        assert int(answer.headers["Upload-Offset"]) == size
        assert rss.growth <= 128 * MiB, f"grew by {rss.growth / MiB:.1f} MiB"
    finally:
        conn.request("DELETE", location, headers=auth)
        conn.getresponse().read()
        conn.close()


def test_websockets_are_served_too(server: Server) -> None:
    """Channels' consumers run under uvicorn as they did under daphne: a member's socket answers."""
    import asyncio
    import json

    import websockets

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/api/v1/projects/", body=json.dumps({"name": "sockets"}),
                 headers={"Authorization": f"Token {server.token}", "Content-Type": "application/json"})
    created = conn.getresponse()
    project = json.loads(created.read())
    assert created.status == 201, project

    async def ping(cookie: str) -> object:
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws/projects/{project['id']}/",
                                      origin=websockets.Origin("http://127.0.0.1"),
                                      additional_headers={"Cookie": cookie}) as socket_:
            hello = json.loads(await asyncio.wait_for(socket_.recv(), 10))
            await socket_.send(json.dumps({"type": "ping", "nonce": 7}))
            return hello, json.loads(await asyncio.wait_for(socket_.recv(), 10))

    assert asyncio.run(ping(server.session)) == ({"type": "hello", "project": project["id"]},
                                                 {"type": "pong", "nonce": 7})
    with pytest.raises(websockets.exceptions.InvalidStatus, match="403"):
        asyncio.run(ping(""))  # no login: refused
