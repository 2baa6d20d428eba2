"""Benchmarks of training, each printed as a ratio against a baseline measured in the same run:

- engine: training samples/s of ``pipelines.training.engine.fit`` against a minimal hand-written
  loop on the same model, loader and optimizer, as the ratio of mean throughputs over 8
  interleaved pairs (goal: at least 0.97);
- memory: activation bytes saved for backward in fp16, bf16 and dynamic against fp32, counted
  with ``torch.autograd.graph.saved_tensors_hooks`` (goal: at most 0.6), and the allocator's peak
  over a whole training step (torch.profiler's live bytes on this CPU, ``pipelines.training.memory``),
  each after a probe has placed dynamic's layers;
- dynamic: best validation accuracy of dynamic precision against fp32 and against bf16 on LeNet-5,
  where every layer is safe (goal: within 0.5 points, the same as bf16), and the probe's share of
  training time (goal: under 5%);
- scenarios: ``bench/precision_scenarios.py`` (a) overflow and (b) offset, fixed low precision and
  dynamic against fp32, with the share of FLOPs in low precision and the allocator peak;
- ddp: see ``bench/ddp_bench.py`` (plain DDP, the one-bucket baseline and each compression);
- events: latency from a separate process publishing through ``domain.events.publish`` to a
  receiver on the run's Channels group, as a consumer gets them (goal: p95 under 50 ms; needs
  the Redis at REDIS_URL).

Half precision on a CPU is much slower than fp32 (autocast has few fast bf16/fp16 kernels there),
so the low-precision figures here are about memory and accuracy, not speed. ``--quick`` is smaller.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.precision_scenarios import run as run_scenario  # noqa: E402
from builder.graph import compile_graph, validate  # noqa: E402
from builder.graph.templates import get_template  # noqa: E402
from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.samples import write_digits  # noqa: E402
from pipelines.training.config import PrecisionConfig, parse_config  # noqa: E402
from pipelines.training.data import cached_loaders  # noqa: E402
from pipelines.training.engine import fit, seed_everything  # noqa: E402
from pipelines.training.memory import measure_training_step  # noqa: E402
from pipelines.training.optim import build_loss, build_optimizer  # noqa: E402
from pipelines.training.precision import PrecisionPolicy, count_saved_bytes  # noqa: E402

CPU = torch.device("cpu")


def hand_written(document: dict, cache: Path, epochs: int, batch: int) -> float:
    """Samples per second of the plainest loop over the same data."""
    config = parse_config({"batch_size": batch})
    seed_everything(0)
    model = compile_graph(document)
    optimizer = build_optimizer(model, config.optimizer)
    loss_fn = build_loss("cross_entropy")
    data = cached_loaders(cache, batch_size=batch, seed=0, classes=10, resize=(32, 32))
    seen, elapsed = 0, 0.0
    for epoch in range(epochs):
        data.set_epoch(epoch)  # type: ignore[misc]
        started = time.perf_counter()
        for x, y in data.train:
            x = data.transform(x)  # type: ignore[misc]
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(y)
        elapsed += time.perf_counter() - started
    return seen / elapsed


def engine(document: dict, cache: Path, epochs: int, batch: int, mode: str = "fp32", lr: float = 1e-3,
           resize: tuple[int, int] | None = (32, 32)) -> tuple[float, dict]:
    config = parse_config({"batch_size": batch, "epochs": epochs, "optimizer": {"lr": lr},
                           "schedule": {"name": "cosine"} if mode != "fp32" or lr != 1e-3 else {"name": "none"},
                           "precision": {"precision_mode": mode}, "stats_every": 20})
    data = cached_loaders(cache, batch_size=batch, seed=0, classes=10, resize=resize)
    flops = {k: v.flops for k, v in validate(document).nodes.items() if v.flops}
    result = fit(compile_graph(document), data, config, device=CPU, layer_flops=flops)
    seconds = sum(h["train_seconds"] for h in result.history)
    samples = sum(h["samples_per_s"] * h["train_seconds"] for h in result.history)
    return samples / seconds, {"best": result.best, "precision": result.precision, "seconds": seconds}


def saved_bytes(document: dict, batch: int) -> dict[str, tuple[int, int]]:
    """Per mode: (bytes autograd saves for backward, the allocator's peak over a training step).
    dynamic is measured after a probe on the batch has placed its layers, as in training."""
    x = torch.randn(batch, 1, 32, 32)
    y = torch.randint(0, 10, (batch,))
    found = {}
    for mode in ("fp32", "fp16", "bf16", "dynamic"):
        torch.manual_seed(0)
        model = compile_graph(document)
        policy = PrecisionPolicy(PrecisionConfig(precision_mode=mode), CPU, model)
        if mode == "dynamic":
            policy.probe(model, (x[:16],), step=1)
        with count_saved_bytes(model) as saved, policy.autocast():
            model(x).sum()
        peak = measure_training_step(model, x, y, torch.nn.functional.cross_entropy,
                                     torch.optim.Adam(model.parameters()), policy.autocast, CPU)
        policy.remove_gates()
        found[mode] = (saved["bytes"], int(peak["peak_bytes"]))
    return found


def dynamic_step_cost(document: dict, runs: int = 4, steps: int = 30) -> tuple[float, float]:
    """Step time of dynamic against fixed bf16 on ``document`` (batch 32): the median seconds of a
    training step (forward, backward, Adam; the median resists a shared CPU's bursts), in runs of
    ``steps`` steps alternating between the two; dynamic's steps carry its gates, and its probe is
    added at its real rate (one every ``probe_every`` steps). Returns (dynamic / bf16, the
    probe's share of dynamic's time)."""
    x, y = torch.randn(32, 1, 32, 32), torch.randint(0, 10, (32,))
    times: dict[str, list[float]] = {"bf16": [], "dynamic": []}
    probes: list[float] = []
    every = PrecisionConfig().probe_every
    for i in range(runs):
        for mode in (("bf16", "dynamic") if i % 2 == 0 else ("dynamic", "bf16")):
            torch.manual_seed(0)
            model = compile_graph(document)
            optimizer = torch.optim.Adam(model.parameters())
            policy = PrecisionPolicy(PrecisionConfig(precision_mode=mode), CPU, model)
            if mode == "dynamic":
                policy.probe(model, (x[:16],), step=1)
                probes.append(policy.probe_seconds)
            for step in range(2, steps + 2):
                started = time.perf_counter()
                with policy.autocast():
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                policy.backward_and_step(loss, optimizer, step)
                times[mode].append(time.perf_counter() - started)
    fixed = statistics.median(times["bf16"])
    dynamic = statistics.median(times["dynamic"]) + statistics.median(probes) / every
    return dynamic / fixed, statistics.median(probes) / every / dynamic


def scenario_rows(quick: bool) -> None:
    rows, epochs = (1000, 3) if quick else (2000, 6)
    for name, low in (("overflow", "fp16"), ("offset", "bf16")):
        found = {mode: run_scenario(name, mode, rows=rows, epochs=epochs) for mode in ("fp32", low, "dynamic")}
        base = found["fp32"]
        for mode in (low, "dynamic"):
            r = found[mode]
            if name == "overflow":
                figure = f"{100 * ((r['metric'] or 0.0) - base['metric']):+.2f} points test accuracy vs fp32 " \
                         f"({r['metric']:.4f} vs {base['metric']:.4f}; goal for dynamic within 0.5)"
            else:
                figure = f"{r['metric'] / base['metric']:.3f} test RMSE ratio to fp32 ({r['metric']:.4f} vs " \
                         f"{base['metric']:.4f}; fixed bf16 >= 2, goal for dynamic <= 1.1)"
            print(f"scenario ({'a' if name == 'overflow' else 'b'}) {name}, {mode}: {figure}; low-precision FLOPs "
                  f"share {r['low_flops_share']:.2f}; allocator peak vs fp32 "
                  f"{r['peak']['peak_bytes'] / base['peak']['peak_bytes']:.3f} ({r['peak']['peak_bytes_method']})")


PUBLISHER = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()
from domain.events import publish
group, count = sys.argv[1], int(sys.argv[2])
time.sleep(1.0)
for i in range(count):
    publish(group, {"type": "run.progress", "i": i, "sent": time.time()})
    time.sleep(0.01)
"""


def event_latency(count: int) -> list[float]:
    import asyncio

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from channels.layers import get_channel_layer

    group = f"run.bench{os.getpid()}"

    async def receive() -> list[float]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, group, str(count)], cwd=ROOT)
        latencies = []
        for _ in range(count):
            message = await asyncio.wait_for(layer.receive(channel), 60)
            latencies.append(time.time() - message["event"]["sent"])
        proc.wait()
        await layer.group_discard(group, channel)
        return latencies

    return asyncio.run(receive())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    epochs = 2 if args.quick else 4
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    print("training bench (CPU): half precision on this CPU is much slower than fp32; low-precision figures "
          "below are memory and accuracy, not speed")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ingest("image", write_digits(folder), "digits.zip", folder / "work", {})
        cache = folder / "work" / "cache"
        lenet = get_template("lenet5")

        engine(lenet, cache, 1, 64)  # warm-up
        # Back-to-back single runs of the same code differ by up to 30% on a shared 2-core CPU, in
        # either direction, so 8 pairs are interleaved (order alternating) and the ratio of the
        # mean throughputs is reported, with the median and range of the per-pair ratios.
        pairs = []
        for i in range(8):
            if i % 2:
                ours, _ = engine(lenet, cache, epochs, 64)
                baseline = hand_written(lenet, cache, epochs, 64)
            else:
                baseline = hand_written(lenet, cache, epochs, 64)
                ours, _ = engine(lenet, cache, epochs, 64)
            pairs.append((ours, baseline))
        ratios = sorted(o / b for o, b in pairs)
        ours, baseline = statistics.fmean(o for o, _ in pairs), statistics.fmean(b for _, b in pairs)
        print(f"engine throughput vs hand-written loop: {ours / baseline:.3f} (mean of 8 interleaved pairs: "
              f"{ours:.0f} vs {baseline:.0f} samples/s; per-pair median {statistics.median(ratios):.3f}, "
              f"range {ratios[0]:.3f}-{ratios[-1]:.3f}; goal >= 0.97)")

        saved = saved_bytes(lenet, 64)
        for mode in ("fp16", "bf16", "dynamic"):
            print(f"activation bytes saved for backward, {mode} vs fp32: {saved[mode][0] / saved['fp32'][0]:.3f} "
                  f"(goal <= 0.6); allocator peak over a training step (profiler.cpu_live_bytes): "
                  f"{saved[mode][1] / saved['fp32'][1]:.3f}")

        dyn_epochs = 4 if args.quick else 8
        _, fp32 = engine(lenet, cache, dyn_epochs, 32, lr=5e-3)
        _, dyn = engine(lenet, cache, dyn_epochs, 32, mode="dynamic", lr=5e-3)
        _, bf16 = engine(lenet, cache, dyn_epochs, 32, mode="bf16", lr=5e-3)
        gap = 100 * (dyn["best"]["accuracy"] - fp32["best"]["accuracy"])
        print(f"validation accuracy, dynamic ({dyn['precision']['low_dtype']}) minus fp32: {gap:+.2f} points "
              f"({dyn['best']['accuracy']:.4f} vs {fp32['best']['accuracy']:.4f}; goal within 0.5); "
              f"low-precision FLOPs share {dyn['precision']['low_precision_flops_share']:.2f}")
        same = 100 * (dyn["best"]["accuracy"] - bf16["best"]["accuracy"])
        print(f"every layer safe (LeNet-5): dynamic minus fixed bf16 validation accuracy {same:+.2f} points, "
              f"layers dynamic keeps in fp32: {sorted(k for k, v in dyn['precision']['layers'].items() if v == 'fp32')}")
        share = dyn["precision"]["probe_seconds"] / dyn["seconds"]
        print(f"dynamic probe share of training time: {share:.3%} ({dyn['precision']['probes']} probes; goal < 5%)")
        cost, probe_share = dynamic_step_cost(lenet)
        print(f"every layer safe (LeNet-5): dynamic step time vs fixed bf16 {cost:.3f} (median step of 4 alternating "
              f"runs of 30, batch 32, plus one probe per {PrecisionConfig().probe_every} steps: {probe_share:.2%} of "
              f"dynamic's time; goal <= 1.05)")
        scenario_rows(args.quick)

    try:
        latencies = sorted(event_latency(100 if args.quick else 300))
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"event latency worker process -> run group receiver: p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
              f"p95 {p95 * 1000:.1f} ms (goal p95 < 50 ms; ratio to goal {p95 / 0.05:.3f})")
    except Exception as exc:  # no Redis here: say so instead of failing the other figures
        print(f"event latency: skipped ({type(exc).__name__}: {exc}); needs Redis at REDIS_URL")
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
