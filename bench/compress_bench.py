"""Benchmarks of compression, export and serving, on a CNN trained here on sklearn's digits.

Run ``python bench/compress_bench.py`` (``--quick`` for fewer epochs). Printed, each against a
baseline measured in the same run:

- pruning (global L2 to 1/8 of the parameters, then fine-tuning): parameter and FLOP reduction,
  accuracy change (goal: at least 8x fewer parameters for at most 1 point), CPU latency ratio;
- int8 (static, calibrated): file size ratio and accuracy change;
- export parity: the largest output difference of each format against PyTorch;
- serving: p50 / p95 latency and throughput of the v2 protocol path (request checking, the model
  in ONNX Runtime, the response) at 1, 8 and 32 concurrent clients against calling ONNX Runtime
  directly on the same model and input (goal: at most 3 ms added p50 at batch 1, at least 0.8 of
  the direct throughput). HTTP and authentication are not in this figure.
"""
from __future__ import annotations

import argparse
import statistics
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


def bench_serving(folder: Path, requests: int) -> None:
    model = load_model(folder)
    session = onnx_session(folder / "model.onnx")
    x = digits()[2][:1].numpy()
    body = {"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}

    def direct() -> None:
        session.run(None, {"image": x})

    def served() -> None:
        infer(model, "digits", "1", body)

    for clients in (1, 8, 32):
        per = max(10, requests // clients)
        _clients(direct, clients, 5)
        d_lat, d_tp = _clients(direct, clients, per)
        s_lat, s_tp = _clients(served, clients, per)
        p = {name: (statistics.median(v), float(np.percentile(v, 95))) for name, v in (("d", d_lat), ("s", s_lat))}
        print(f"serving, {clients:>2} clients: protocol path p50 {p['s'][0]:.3f} ms p95 {p['s'][1]:.3f} ms, "
              f"{s_tp:.0f} req/s; direct ONNX Runtime p50 {p['d'][0]:.3f} ms p95 {p['d'][1]:.3f} ms, {d_tp:.0f} req/s; "
              f"added p50 {p['s'][0] - p['d'][0]:+.3f} ms (goal <= 3), throughput ratio {s_tp / d_tp:.2f} (goal >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer epochs and requests")
    args = parser.parse_args()
    epochs, requests = (3, 200) if args.quick else (8, 1000)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        package = bench_pruning(epochs)
        bench_int8(package, tmp)
        onnx_folder = bench_exports(package, tmp)
        bench_serving(onnx_folder, requests)


if __name__ == "__main__":
    main()
