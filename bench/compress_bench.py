"""Benchmarks of compression, export and serving, on a CNN trained here on sklearn's digits.

Run ``python bench/compress_bench.py`` (``--quick`` for fewer epochs). Printed, each against a
baseline measured in the same run:

- pruning (global L2 to 1/8 of the parameters, then fine-tuning): parameter and FLOP reduction,
  accuracy change (goal: at least 8x fewer parameters for at most 1 point), CPU latency ratio;
- int8 (static, calibrated): file size ratio and accuracy change;
- export parity: the largest output difference of each format against PyTorch;
- serving: p50 / p95 latency and throughput of the real endpoint, ``POST /v2/models/{name}/infer``
  over HTTP on loopback (make run's uvicorn serving config.asgi, the embedded default's web process, which mounts
  the serving app at /v2; then uvicorn serving ``serving.app:application`` alone with one worker per
  core, as docker-compose's serving service runs it; each started here as a subprocess, the
  deployment's rows in a throwaway SQLite database, its serving index written by the domain;
  API key checked on every request, the rate limit shared through Redis), at 1, 8 and 32 concurrent clients (one keep-alive connection
  each, a bounded number of requests each) against calling ONNX Runtime directly on the same model
  and input from the same number of threads (goal: at most 3 ms added p50 at batch 1, at least 0.8
  of the direct throughput). The in-process protocol path (no HTTP) is printed too, to show where
  the added time goes. The serving app reads no database: keys are checked against the serving
  index (docs/serving.md). Then the ceiling: the same uvicorn, flags and clients serving ``bench/bare_asgi.py``, an app that
  answers the endpoint's response without doing anything, so the figures show how much of the
  direct throughput any HTTP endpoint could reach here, and how much of that the endpoint reaches.
  Last, the uvicorn endpoint again for a wider CNN of the same family whose call takes about 1 ms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.compress.prune import PruneConfig, prune_package  # noqa: E402
from pipelines.compress.quantize import quantize_package  # noqa: E402
from pipelines.compress.report import compare, measure_onnx, measure_package  # noqa: E402
from pipelines.export.formats import FORMATS, export_package  # noqa: E402
from pipelines.export.package import ModelPackage, make_card  # noqa: E402
from pipelines.serving.protocol import infer  # noqa: E402
from pipelines.serving.runtime import load_model, onnx_session  # noqa: E402
from tests.model_factories import DIGIT_CLASSES, digits, resnet_doc, train  # noqa: E402


def bench_pruning(epochs: int) -> ModelPackage:
    document = resnet_doc(width=32)
    weights = train(document, epochs=epochs)
    package = ModelPackage(document, weights, make_card(document, name="digits-cnn", classes=DIGIT_CLASSES))
    _, _, x_test, y_test = digits()
    samples = (x_test,)
    before = measure_package(package, samples, y_test)
    total = before["params"]
    result = prune_package(package, PruneConfig(method="l2", scope="global", target_params=total // 8, max_ratio=0.95),
                           (x_test[:128],), y_test[:128])
    model = result.package.module()
    tuned = train(result.package.document, epochs=epochs, model=model)
    pruned = ModelPackage(result.package.document, tuned, package.card)
    after = measure_package(pruned, samples, y_test)
    report = compare(before, after)
    r = report["ratios"]
    print(f"pruning: params {before['params']} -> {after['params']} ({r['params']:.1f}x fewer, goal >= 8x); "
          f"FLOPs {r['flops']:.1f}x fewer; accuracy {100 * before['accuracy']:.1f}% -> {100 * after['accuracy']:.1f}% "
          f"({report['accuracy_change_points']:+.1f} points, goal >= -1); "
          f"CPU latency batch 1 {before['latency_ms']:.3f} -> {after['latency_ms']:.3f} ms (ratio {r['latency_ms']:.2f})")
    return package


def bench_int8(package: ModelPackage, tmp: Path) -> None:
    _, _, x_test, y_test = digits()
    path, mode = quantize_package(package, tmp / "int8", mode="static", calibration=(x_test[:256],))
    before = measure_package(package, (x_test,), y_test)
    after = measure_onnx(path, (x_test,), y_test)
    report = compare(before, after)
    print(f"int8 ({mode}): file {before['file_bytes']} -> {after['file_bytes']} bytes "
          f"(size ratio {report['ratios']['file_bytes']:.2f}); accuracy change {report['accuracy_change_points']:+.1f} points")


def bench_exports(package: ModelPackage, tmp: Path) -> Path:
    _, _, x_test, _ = digits()
    parts = []
    for fmt in FORMATS:
        result = export_package(package, fmt, tmp / fmt, (x_test[:128],))
        parts.append(f"{fmt} {result.max_abs_diff:.2e} (tol {result.tolerance:g})")
    print("export parity (max |diff| on 128 real samples): " + "; ".join(parts))
    return tmp / "onnx"


def _clients(call: object, n_clients: int, per_client: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            call()  # type: ignore[operator]
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, n_clients * per_client / (time.perf_counter() - start)


def _stats(latencies: list[float]) -> tuple[float, float]:
    return statistics.median(latencies), float(np.percentile(latencies, 95))


class LiveEndpoint:
    """An ASGI server (``SERVERS``) on a free loopback port serving one deployment of the ONNX
    model in ``folder``, over a throwaway SQLite database in ``tmp`` (migrated here). The database
    rows around the deployment (user, project, run) are scaffolding; what is served is exactly
    ``folder``. ``start`` runs a server, ``stop`` ends it; the deployment and its key stay."""

    def __init__(self, folder: Path, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
                    "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "MEDIA_ROOT": str(tmp / "media"),
                    "VMB_MODELS_DIR": str(tmp / "models"), "VMB_RUNS_DIR": str(tmp / "runs")}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env,
                       check=True, timeout=300)
        self.key = self._deployment(folder)

    def start(self, server: str, workers: int = 1, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        logfile = self.tmp / f"{server}.log"
        self.log = open(logfile, "wb")  # noqa: SIM115  (closed in stop)
        extra = ["--workers", str(workers)] if workers > 1 else []
        self.process = subprocess.Popen([*SERVERS[server], "--port", str(self.port), *extra], cwd=ROOT,
                                        env={**self.env, **(env or {})},
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(logfile.read_text()[-2000:])
            try:
                status, _ = self.call("GET", "/v2/health/ready", None)
                if status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{server} did not answer /v2/health/ready within 90 s")

    def _deployment(self, folder: Path) -> str:
        """Create the rows in a child process (Django's settings belong to the server's env) and
        return the API key."""
        script = f"""
import django, json, shutil
from pathlib import Path
django.setup()
from django.contrib.auth import get_user_model
from domain.jobs.models import JobStatus
from domain.deploy import services as deploy_services
from domain.deploy.models import Deployment, ModelKind, ModelVariant
from domain.jobs.models import JobStatus
from tests.deploy_factories import make_artifact
user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
artifact = make_artifact(user, "resnet")
card = json.loads((Path({str(folder)!r}) / "card.json").read_text())
variant = ModelVariant.objects.create(project=artifact.run.project, kind=ModelKind.TRAINED, name="bench",
    artifact=artifact, status=JobStatus.SUCCEEDED, card=card)
deployment = Deployment.objects.create(project=variant.project, variant=variant, name="digits",
    status=JobStatus.SUCCEEDED, rate_limit_per_minute=10**9, folder="deployments/bench")
shutil.copytree({str(folder)!r}, deploy_services.models_dir() / deployment.folder)
key = deploy_services._store_key(user, deployment, "bench")
from domain.deploy import serving
serving.publish()
print(key)
"""
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=self.env, check=True, timeout=600,
                              capture_output=True, text=True)
        return done.stdout.strip().splitlines()[-1]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None,
             connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = connection is None
        conn = connection or self.connection()
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if own:
            conn.close()
        return response.status, data

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# The web process of the embedded default (the serving app mounted beside Django), and
# docker-compose's serving service (the serving app alone, no Django).
SERVERS = {
    # As `make run` starts it (scripts/run.py's web_command, less the port this bench picks).
    "web": [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--http", "httptools", "--ws", "websockets",
            "--lifespan", "off", "--no-proxy-headers", "config.asgi:application"],
    "uvicorn": [sys.executable, "-m", "uvicorn", "serving.app:application", "--host", "127.0.0.1",
                "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
    # The ceiling: the same uvicorn and flags serving bench/bare_asgi.py, an app that does nothing.
    "bare": [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(ROOT / "bench"), "--host",
             "127.0.0.1", "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
}


def _http_clients(endpoint: LiveEndpoint, body: bytes, n_clients: int, per_client: int) -> tuple[list[float], float]:
    """Like ``_clients``, each client on its own keep-alive connection; any non-200 stops the bench."""
    local = threading.local()

    def call() -> None:
        if not hasattr(local, "conn"):
            local.conn = endpoint.connection()
        status, data = endpoint.call("POST", "/v2/models/digits/infer", body, local.conn)
        if status != 200:
            raise RuntimeError(f"the endpoint answered {status}: {data[:300]!r}")

    return _clients(call, n_clients, per_client)


def bench_serving(folder: Path, requests: int, tmp: Path, servers: tuple[tuple[str, int], ...] | None = None,
                  label: str = "") -> None:
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, "format": "onnx"}))
    model = load_model(folder)
    session = onnx_session(folder / "model.onnx")
    x = digits()[2][:1].numpy()
    request = {"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}
    body = json.dumps(request).encode()
    endpoint = LiveEndpoint(folder, tmp)
    answer = b""
    endpoint_tp: dict[int, float] = {}
    # web: the web process of the embedded default (make run's uvicorn); uvicorn: docker-compose's serving service,
    # one process per core (``--workers``), as a production deployment runs it; bare: the same
    # uvicorn serving an app that answers a fixed body, the ceiling of any endpoint here.
    cores = os.cpu_count() or 1
    for server, workers in servers or (("web", 1), ("uvicorn", cores), ("bare", cores)):
        endpoint.start(server, workers, {"VMB_BARE_RESPONSE": answer.decode()})
        try:
            if server != "bare":
                status, answer = endpoint.call("POST", "/v2/models/digits/infer", body)
                expected = session.run(None, {"image": x})[0].ravel()
                assert status == 200 and np.allclose(json.loads(answer)["outputs"][0]["data"], expected,
                                                     atol=1e-4), answer
            for clients in (1, 8, 32):
                per = max(10, requests // clients)
                _clients(lambda: session.run(None, {"image": x}), clients, 5)
                _http_clients(endpoint, body, clients, 5)  # warm: connections, the model in each process
                d_lat, d_tp = _clients(lambda: session.run(None, {"image": x}), clients, per)
                h_lat, h_tp = _http_clients(endpoint, body, clients, per)
                d, h = _stats(d_lat), _stats(h_lat)
                if server == "bare":
                    print(f"serving ceiling (an app that does nothing, uvicorn x{workers}), {clients:>2} clients: "
                          f"p50 {h[0]:.3f} ms, {h_tp:.0f} req/s = {h_tp / d_tp:.2f} of direct ONNX Runtime "
                          f"({d_tp:.0f} req/s); the endpoint (uvicorn) reaches {endpoint_tp[clients] / h_tp:.2f} "
                          "of this ceiling")
                    continue
                p_lat, p_tp = _clients(lambda: infer(model, "digits", "1", request), clients, per)
                p = _stats(p_lat)
                endpoint_tp[clients] = h_tp
                print(f"serving{label} ({server} x{workers}), {clients:>2} clients x {per} requests: HTTP endpoint p50 "
                      f"{h[0]:.3f} ms p95 {h[1]:.3f} ms, {h_tp:.0f} req/s; direct ONNX Runtime p50 {d[0]:.3f} ms "
                      f"p95 {d[1]:.3f} ms, {d_tp:.0f} req/s; added p50 {h[0] - d[0]:+.3f} ms (goal <= 3), "
                      f"throughput ratio {h_tp / d_tp:.2f} (goal >= 0.8); in-process protocol path p50 "
                      f"{p[0]:.3f} ms, {p_tp:.0f} req/s")
        finally:
            endpoint.stop()


def bench_serving_wide(requests: int, tmp: Path) -> None:
    """The same endpoint for a model whose call takes about a millisecond (the digits ResNet at
    width 256, 2.4M parameters, one epoch): where the model, not HTTP, is most of a request."""
    document = resnet_doc(width=256)
    package = ModelPackage(document, train(document, epochs=1),
                           make_card(document, name="digits-cnn-wide", classes=DIGIT_CLASSES))
    export_package(package, "onnx", tmp / "onnx", (digits()[2][:128],))
    bench_serving(tmp / "onnx", requests, tmp, servers=(("uvicorn", os.cpu_count() or 1),),
                  label=", 1 ms model")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer epochs and requests")
    parser.add_argument("--serving-only", action="store_true", help="only the endpoint figures (a short training)")
    args = parser.parse_args()
    epochs, requests = (3, 200) if args.quick else (8, 1000)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.serving_only:
            document = resnet_doc(width=32)
            package = ModelPackage(document, train(document, epochs=1),
                                   make_card(document, name="digits-cnn", classes=DIGIT_CLASSES))
            bench_serving(bench_exports(package, tmp), requests, tmp)
            (tmp / "wide").mkdir()
            bench_serving_wide(requests // 4, tmp / "wide")
            return
        package = bench_pruning(epochs)
        bench_int8(package, tmp)
        onnx_folder = bench_exports(package, tmp)
        bench_serving(onnx_folder, requests, tmp)
        (tmp / "wide").mkdir()
        bench_serving_wide(requests // 4, tmp / "wide")


if __name__ == "__main__":
    main()
