"""Benchmarks of datasets: ingest throughput, web-process memory during a large upload, and
data-loader throughput from the cache against random tensors of the same shape.

Run ``python bench/datasets_bench.py`` (``--upload-mb 1024`` by default; ``--quick`` for a small
run). Each figure is printed with a ratio against a baseline measured in the same run:

- ingest: our full ingest (safe extraction, checks, decode, resample, cache) against a bare
  decode loop over the same files (pydicom ``dcmread`` + ``pixel_array``; PIL ``open`` + ``load``);
- upload: peak RSS growth of the web process (uvicorn, as `make run` starts it) while a tus client sends the file in chunks, as a
  share of the upload size (goal: far below 1, i.e. streamed, not buffered);
- loader: samples per second of a DataLoader over the memory-mapped cache against one over
  ``torch.rand`` tensors of the same shape (goal: at least 0.9).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.loader import CachedDataset  # noqa: E402
from pipelines.datasets.samples import write_digits  # noqa: E402
from pipelines.datasets.synthetic_ct import write_chest_ct  # noqa: E402
from scripts.run import web_command  # noqa: E402

LOADER_GOAL = 0.9
MiB = 1024 * 1024


def bench_dicom(tmp: Path, patients: int, slices: int) -> None:
    source = tmp / "ct"
    files = write_chest_ct(source, patients=patients, slices=slices, size=128)
    archive = tmp / "ct.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in files:
            zf.write(f, f.relative_to(source).as_posix())
    import pydicom

    start = time.perf_counter()
    for f in files:
        pydicom.dcmread(f).pixel_array.astype(np.float32)
    bare = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    ingest("ct_dicom", archive, "ct.zip", tmp / "ct_work", {"volume_shape": [slices, 128, 128]})
    ours = len(files) / (time.perf_counter() - start)
    print(f"ingest DICOM: {ours:8.0f} slices/s   bare pydicom decode {bare:8.0f} slices/s   ratio {ours / bare:.2f}")


def bench_images(tmp: Path) -> None:
    archive = write_digits(tmp)
    raw = tmp / "digits_raw"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(raw)
    files = sorted(raw.rglob("*.png"))
    from PIL import Image

    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            np.asarray(im.convert("L"), dtype=np.float32)
    bare = len(files) / (time.perf_counter() - start)
    start = time.perf_counter()
    ingest("image", archive, "digits.zip", tmp / "img_work", {})
    ours = len(files) / (time.perf_counter() - start)
    print(f"ingest images: {ours:7.0f} images/s   bare PIL decode     {bare:8.0f} images/s   ratio {ours / bare:.2f}")


def bench_loader(tmp: Path, samples: int, epochs: int) -> None:
    work = tmp / "loader"
    cache = work / "cache"
    cache.mkdir(parents=True)
    shape = (3, 64, 64)
    inputs = np.lib.format.open_memmap(cache / "inputs.npy", mode="w+", dtype=np.uint8, shape=(samples, *shape))
    inputs[:] = np.random.default_rng(0).integers(0, 256, (samples, *shape), dtype=np.uint8)
    inputs.flush()
    np.save(cache / "targets.npy", np.arange(samples, dtype=np.int64) % 10)
    np.save(cache / "splits.npy", np.zeros(samples, dtype=np.int8))
    (cache / "recipe.json").write_text('{"input": "image", "channels": 3}')
    cached = CachedDataset(cache, "train")
    random = torch.utils.data.TensorDataset(torch.rand(samples, *shape), torch.arange(samples) % 10)

    def rate(dataset: torch.utils.data.Dataset) -> float:
        loader = (dataset.loader(64, shuffle=True) if isinstance(dataset, CachedDataset)
                  else torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True))
        for _ in loader:  # warm up (page cache, allocator)
            break
        start = time.perf_counter()
        count = 0
        for _ in range(epochs):
            for x, _y in loader:
                count += len(x)
        return count / (time.perf_counter() - start)

    ours, theirs = [], []
    for _ in range(3):  # alternate, so machine load hits both alike
        ours.append(rate(cached))
        theirs.append(rate(random))
    ratio = float(np.median(ours) / np.median(theirs))
    print(f"loader: cache {np.median(ours):8.0f} samples/s   random tensors {np.median(theirs):8.0f} samples/s   "
          f"ratio {ratio:.2f} (goal >= {LOADER_GOAL})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_upload(tmp: Path, megabytes: int, chunk_mb: int) -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.local", DEBUG="false",
               VMB_VAR_DIR=str(tmp / "var"), DATABASE_URL=f"sqlite:///{tmp / 'var' / 'db.sqlite3'}",
               REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
               VMB_UPLOAD_CHUNK_MAX_BYTES=str(chunk_mb * MiB), VMB_UPLOAD_MAX_BYTES=str((megabytes + 1) * MiB))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
    token = subprocess.run([*manage, "shell", "-c",
                            "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token;"
                            "print(Token.objects.create(user=User.objects.create_user('bench', password='x')).key)"],
                           env=env, check=True, cwd=ROOT, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = _free_port()
    web = subprocess.Popen(web_command("127.0.0.1", str(port)), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        process = psutil.Process(web.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        _tus_upload(port, token, megabytes * MiB, chunk_mb * MiB)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        growth = (peak[0] - baseline) / MiB
        print(f"upload: {megabytes} MiB in {chunk_mb} MiB chunks at {megabytes / seconds:6.0f} MiB/s; web process "
              f"RSS {baseline / MiB:.0f} MiB -> peak {peak[0] / MiB:.0f} MiB (+{growth:.0f} MiB)   "
              f"ratio growth/upload {growth / megabytes:.3f}, growth/chunk {growth / chunk_mb:.2f}")
    finally:
        web.terminate()
        web.wait(timeout=20)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the web server did not start")


def _tus_upload(port: int, token: str, size: int, chunk: int) -> None:
    headers = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    name = base64.b64encode(b"bench.bin").decode()
    conn.request("POST", "/api/v1/uploads/", b"", {**headers, "Upload-Length": str(size),
                                                   "Upload-Metadata": f"filename {name}"})
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"create answered {response.status}")
    path = urllib.parse.urlparse(response.headers["Location"]).path
    block = os.urandom(MiB)
    offset = 0
    while offset < size:
        length = min(chunk, size - offset)
        conn.putrequest("PATCH", path)
        for key, value in {**headers, "Upload-Offset": str(offset), "Content-Length": str(length),
                           "Content-Type": "application/offset+octet-stream"}.items():
            conn.putheader(key, value)
        conn.endheaders()
        sent = 0
        while sent < length:  # stream the chunk: the client never holds it whole either
            piece = block[: min(MiB, length - sent)]
            conn.send(piece)
            sent += len(piece)
        response = conn.getresponse()
        response.read()
        if response.status != 204:
            raise RuntimeError(f"PATCH answered {response.status}")
        offset = int(response.headers["Upload-Offset"])
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-mb", type=int, default=int(os.environ.get("BENCH_UPLOAD_MB", "1024")))
    parser.add_argument("--chunk-mb", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="vmb-datasets-bench-"))
    try:
        bench_dicom(tmp, patients=2 if args.quick else 8, slices=16 if args.quick else 64)
        bench_images(tmp)
        bench_loader(tmp, samples=1024 if args.quick else 8192, epochs=1 if args.quick else 2)
        bench_upload(tmp, 64 if args.quick else args.upload_mb, args.chunk_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
