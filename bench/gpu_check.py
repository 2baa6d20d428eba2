"""The GPU check: the engine's headline figures on one accelerator, as ratios measured in one run.

Run it on a machine with one CUDA GPU (``python bench/gpu_check.py``; under 8 minutes on an H100);
``--smoke`` runs every section at tiny sizes, on the CPU when there is no GPU (the test suite does,
to keep the script working). Each line is ``<key> = <ratio or skipped> | <how it was measured>``;
the last line is the same figures as JSON.

- ``step_time.<mode>_vs_fp32``: mean seconds of a training step (forward, loss, backward, Adam)
  of ResNet-50 compiled from its graph (batch 64, 224x224), after warm-up steps, synchronised
  with the device; fp16, bf16 and dynamic against fp32. dynamic's includes its probe at the rate
  training runs it (the probe's seconds divided by ``probe_every``).
- ``peak.<mode>_vs_fp32``: the allocator's peak over one training step
  (``torch.cuda.max_memory_allocated``; on a CPU torch.profiler's live bytes), against fp32.
- ``scenario.overflow.*`` and ``scenario.offset.*``: ``bench/precision_scenarios.py`` trained on
  the device (accuracy points against fp32 for (a), RMSE ratio to fp32 for (b), the share of
  FLOPs in low precision, the peak against fp32).
- ``attention.sdpa_vs_naive_peak``: peak memory of forward and backward of
  ``F.scaled_dot_product_attention`` against softmax(QK^T)V written out, at 4096 tokens
  (8 heads of 64, fp16 on a GPU).
- ``onnx.cuda_vs_cpu_speedup``: ONNX Runtime inference time of the same ResNet-50 on the CPU
  provider over the CUDA provider (skipped when ONNX Runtime has no CUDA provider).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.precision_scenarios import run as run_scenario  # noqa: E402
from builder.graph import compile_graph  # noqa: E402
from builder.graph.templates import get_template, torchvision_graph  # noqa: E402
from pipelines.training.config import PrecisionConfig  # noqa: E402
from pipelines.training.memory import live_bytes, measure_peak, measure_training_step  # noqa: E402
from pipelines.training.precision import PrecisionPolicy  # noqa: E402

MODES = ("fp32", "fp16", "bf16", "dynamic")
FIGURES: dict[str, float | None] = {}


def say(key: str, value: float | None, how: str) -> None:
    FIGURES[key] = value
    shown = "skipped" if value is None else f"{value:.3f}"
    print(f"{key} = {shown} | {how}", flush=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_graph(smoke: bool, size: int) -> tuple[str, dict[str, Any], int]:
    """ResNet-50's graph (the smoke run: LeNet-5's, 1x32x32, so the CPU version stays quick)."""
    if smoke:
        return "LeNet-5 graph (smoke)", get_template("lenet5"), 1
    document, _ = torchvision_graph("resnet50", num_classes=1000, input_size=size)
    return "ResNet-50 graph", document, 3


def step_times(device: torch.device, batch: int, size: int, warmup: int, steps: int, smoke: bool) -> None:
    label, document, channels = model_graph(smoke, size)
    classes = 10 if smoke else 1000
    seconds: dict[str, float] = {}
    peaks: dict[str, int] = {}
    for mode in MODES:
        torch.manual_seed(0)
        model = compile_graph(document).to(device).train()
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        policy = PrecisionPolicy(PrecisionConfig(precision_mode=mode), device, model)
        optimizer = torch.optim.Adam(model.parameters())
        x = torch.randn(batch, channels, size, size, device=device)
        y = torch.randint(0, classes, (batch,), device=device)
        if mode == "dynamic":
            policy.probe(model, (x[:16],), step=1)  # the probe runs, and costs, as in training

        def step(i: int, model: torch.nn.Module = model, policy: PrecisionPolicy = policy,
                 optimizer: torch.optim.Optimizer = optimizer, x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            policy.maybe_probe(model, (x,), i)
            with policy.autocast():
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            policy.backward_and_step(loss, optimizer, i)

        for i in range(warmup):
            step(i + 2)
        _sync(device)
        started = time.perf_counter()
        for i in range(steps):
            step(warmup + i + 2)
        _sync(device)
        seconds[mode] = (time.perf_counter() - started) / steps
        if mode == "dynamic":  # its probe, at the rate training runs it (one per probe_every steps)
            seconds[mode] += policy.probe_seconds / max(1, policy.probes) / policy.config.probe_every
        found = measure_training_step(model, x, y, F.cross_entropy, optimizer, policy.autocast, device)
        peaks[mode] = int(found["peak_bytes"])
        method = found["peak_bytes_method"]
        policy.remove_gates()
        del model, optimizer, x, y
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for mode in MODES[1:]:
        say(f"step_time.{mode}_vs_fp32", seconds[mode] / seconds["fp32"],
            f"{label}, batch {batch}, {size}x{size}, mean of {steps} steps after {warmup} warm-up "
            f"({seconds[mode] * 1000:.1f} ms vs {seconds['fp32'] * 1000:.1f} ms)")
    for mode in MODES[1:]:
        say(f"peak.{mode}_vs_fp32", peaks[mode] / peaks["fp32"],
            f"{method} over one training step ({peaks[mode] / 2**20:.0f} MiB vs {peaks['fp32'] / 2**20:.0f} MiB)")


def scenarios(device: torch.device, rows: int, epochs: int) -> None:
    low = {"overflow": "fp16", "offset": "bf16"}
    for name in ("overflow", "offset"):
        found = {mode: run_scenario(name, mode, rows=rows, epochs=epochs, device=device)
                 for mode in ("fp32", low[name], "dynamic")}
        base = found["fp32"]
        for mode in (low[name], "dynamic"):
            result = found[mode]
            if name == "overflow":
                metric = result["metric"] if result["metric"] is not None else math.nan
                say(f"scenario.overflow.{mode}_minus_fp32_points", 100 * (metric - base["metric"]),
                    f"test accuracy {metric:.4f} vs fp32 {base['metric']:.4f} (goal for dynamic: within 0.5)")
            else:
                say(f"scenario.offset.{mode}_vs_fp32_rmse", result["metric"] / base["metric"],
                    f"test RMSE {result['metric']:.4f} vs fp32 {base['metric']:.4f} "
                    f"(fixed bf16 >= 2; goal for dynamic: <= 1.1)")
        dynamic = found["dynamic"]
        say(f"scenario.{name}.dynamic_low_flops_share", dynamic["low_flops_share"],
            f"layers in fp32: {[k for k, v in dynamic['precision']['layers'].items() if v == 'fp32']} (goal >= 0.5)")
        say(f"scenario.{name}.dynamic_peak_vs_fp32", dynamic["peak"]["peak_bytes"] / base["peak"]["peak_bytes"],
            f"{dynamic['peak']['peak_bytes_method']} over one training step")


def attention(device: torch.device, tokens: int) -> None:
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    heads, dim = 8, 64

    def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dim), dim=-1)
        return weights @ v

    peaks = {}
    for name, fn in (("sdpa", F.scaled_dot_product_attention), ("naive", naive)):
        q, k, v = (torch.randn(1, heads, tokens, dim, device=device, dtype=dtype, requires_grad=True)
                   for _ in range(3))
        start = live_bytes(torch.nn.Module(), None, (q, k, v))
        with measure_peak(device, start) as found:
            fn(q, k, v).sum().backward()
        peaks[name] = int(found["peak_bytes"])
        method = found["peak_bytes_method"]
        del q, k, v
    say("attention.sdpa_vs_naive_peak", peaks["sdpa"] / peaks["naive"],
        f"{method}, forward+backward, {tokens} tokens, {heads} heads of {dim}, {dtype} "
        f"({peaks['sdpa'] / 2**20:.1f} MiB vs {peaks['naive'] / 2**20:.1f} MiB)")


def onnx_speedup(size: int, batch: int, runs: int, smoke: bool) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        say("onnx.cuda_vs_cpu_speedup", None, "onnxruntime is not installed")
        return
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        say("onnx.cuda_vs_cpu_speedup", None,
            f"no CUDA provider in onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())})")
        return
    label, document, channels = model_graph(smoke, size)
    model = compile_graph(document).eval()
    x = torch.randn(batch, channels, size, size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.onnx"
        torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False)
        seconds = {}
        for provider in ("CPUExecutionProvider", "CUDAExecutionProvider"):
            session = ort.InferenceSession(str(path), providers=[provider])
            feed = {"x": x.numpy()}
            session.run(None, feed)
            started = time.perf_counter()
            for _ in range(runs):
                session.run(None, feed)
            seconds[provider] = (time.perf_counter() - started) / runs
    say("onnx.cuda_vs_cpu_speedup", seconds["CPUExecutionProvider"] / seconds["CUDAExecutionProvider"],
        f"ONNX Runtime, {label}, batch {batch}, {size}x{size}, mean of {runs} runs per provider")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; runs on the CPU without a GPU")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.smoke:
        parser.error("no CUDA device: run with --smoke for the CPU version")
    started = time.perf_counter()
    print(f"gpu check on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}"
          f"{' (smoke: tiny sizes)' if args.smoke else ''}", flush=True)
    if args.smoke:
        step_times(device, batch=8, size=32, warmup=1, steps=2, smoke=True)
        scenarios(device, rows=200, epochs=1)
        attention(device, tokens=128)
        onnx_speedup(size=32, batch=1, runs=2, smoke=True)
    else:
        step_times(device, batch=64, size=224, warmup=5, steps=20, smoke=False)
        scenarios(device, rows=2000, epochs=6)
        attention(device, tokens=4096)
        onnx_speedup(size=224, batch=16, runs=20, smoke=False)
    print(f"total seconds = {time.perf_counter() - started:.1f} | wall clock of the whole check", flush=True)
    print(json.dumps({"gpu_check": FIGURES, "device": str(device), "smoke": args.smoke}))


if __name__ == "__main__":
    main()
