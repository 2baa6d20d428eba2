"""Benchmarks of the graph core: validation, compilation, and training-step speed of compiled
graphs against the torchvision models they were imported from.

Run ``python bench/graph_bench.py`` (about two minutes on 2 idle CPU cores). Everything runs on
the CPU in fp32 with 2 threads; timings are medians, and the compiled/torchvision steps alternate
so that drift in machine load hits both sides alike. On a busy machine expect noise of tens of
percent; the paired ratio is the figure to read.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.graph import compile_graph, validate  # noqa: E402
from builder.graph.importer import from_module  # noqa: E402

VALIDATION_GOAL_MS = 20.0
RATIO_GOAL = 1.03


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def train_step(model: nn.Module, x: torch.Tensor) -> None:
    model(x).sum().backward()
    for p in model.parameters():
        p.grad = None


def compare_steps(compiled: nn.Module, reference: nn.Module, x: torch.Tensor,
                  repeats: int, warmup: int) -> tuple[list[float], list[float]]:
    """Forward+backward times (ms) of each, measured alternately."""
    for _ in range(warmup):
        train_step(compiled, x)
        train_step(reference, x)
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(repeats):
        order = (0, 1) if i % 2 == 0 else (1, 0)  # alternate who goes first
        for which in order:
            model = compiled if which == 0 else reference
            start = time.perf_counter()
            train_step(model, x)
            times[which].append(time.perf_counter() - start)
    return [1000 * t for t in times[0]], [1000 * t for t in times[1]]


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<44} {value:>14}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed training steps per model")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64, help="image height and width")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32 CPU, "
          f"input {tuple(x.shape)}\n")

    models = {name: torchvision.models.get_model(name, weights=None) for name in ("resnet18", "resnet50")}
    imported: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = {}
    print("Import and compile")
    for name, model in models.items():
        start = time.perf_counter()
        imported[name] = from_module(model, x[:1])
        row(f"from_module({name})", f"{1000 * (time.perf_counter() - start):.0f} ms",
            f"{len(imported[name][0]['nodes'])} nodes")

    doc50 = imported["resnet50"][0]
    validate_ms = median_ms(lambda: validate(doc50, batch_size=args.batch), repeats=30, warmup=3)
    ok = "ok" if validate_ms < VALIDATION_GOAL_MS else "SLOW"
    row("validate(resnet50 graph)", f"{validate_ms:.1f} ms", f"goal < {VALIDATION_GOAL_MS:.0f} ms: {ok}")
    for name, (doc, _) in imported.items():
        compile_ms = median_ms(partial(compile_graph, doc, batch_size=args.batch), repeats=5)
        row(f"compile_graph({name})", f"{compile_ms:.0f} ms", "validate + build + fx codegen")

    print("\nTraining step (forward + backward), compiled graph vs torchvision, same weights")
    for name, reference in models.items():
        doc, weights = imported[name]
        compiled = compile_graph(doc, batch_size=args.batch)
        compiled.load_state_dict(weights, strict=True)
        compiled.train()
        reference.train()
        with torch.no_grad():
            check = (compiled.eval()(x) - reference.eval()(x)).abs().max().item()
        compiled.train()
        reference.train()
        ours, theirs = compare_steps(compiled, reference, x, repeats=args.repeats, warmup=3)
        # Each pair ran back to back, so the median of per-pair ratios shrugs off load that
        # comes and goes (other processes on a shared machine) better than a ratio of medians.
        ratio = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        verdict = "ok" if ratio <= RATIO_GOAL else "over goal"
        row(f"{name} compiled (median / best)", f"{statistics.median(ours):.1f} ms", f"{min(ours):.1f} ms")
        row(f"{name} torchvision (median / best)", f"{statistics.median(theirs):.1f} ms", f"{min(theirs):.1f} ms")
        row(f"{name} ratio compiled/torchvision", f"{ratio:.3f}",
            f"goal <= {RATIO_GOAL}: {verdict} (median of paired ratios; best/best "
            f"{min(ours) / min(theirs):.3f}); eval max |diff| {check:.1e}")


if __name__ == "__main__":
    main()
