"""Data-parallel step time, each mode as a ratio to plain DDP measured in the same run.

Two ranks through the product's own launcher (``pipelines.training.distributed.launch``: torch's
elastic agent, the real engine): gloo on the CPU here, NCCL when the machine has two GPUs. The
modes: plain DDP (buckets all-reduced during backward: overlap), the fair no-overlap baseline (the
same DDP with one bucket larger than the model, all-reduced after backward), and the gradient
compressions (DDP communication hooks: fp16, bf16, PowerSGD rank 1 after 10 exact steps).

The model is an MLP of about 8.5 M parameters (34 MB of fp32 gradients), large enough that plain
DDP makes several buckets (1 MiB, then 25 MiB each). Step time = the seconds of the last epoch's
training (data loading included; the first epoch warms up) over its steps; the median over rounds
in which the modes are interleaved, so a busy machine slows them alike. Below 1 is faster.

On a CPU the ranks share the cores that compute and the loopback that communicates, so overlap
and compression have little to hide or save there; the figures that matter for the brief come
from NCCL on GPUs. ``--quick`` runs one round.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.samples import write_digits  # noqa: E402
from pipelines.training.config import parse_config  # noqa: E402
from pipelines.training.distributed import launch  # noqa: E402

MODES: dict[str, dict[str, Any]] = {
    "plain DDP (overlap)": {"overlap": True},
    "no overlap (one bucket)": {"overlap": False},
    "fp16 compression": {"compression": "fp16"},
    "bf16 compression": {"compression": "bf16"},
    "powersgd compression (rank 1)": {"compression": "powersgd"},
}


def mlp(width: int) -> dict[str, Any]:
    """Digits (8x8) through three ``width``-wide hidden layers."""
    nodes = [("image", "image_input", {"channels": 1, "height": 8, "width": 8}), ("flatten", "flatten", {})]
    for index in range(3):
        nodes += [(f"fc{index}", "linear", {"out_features": width}), (f"relu{index}", "relu", {})]
    nodes.append(("logits", "linear", {"out_features": 10}))
    return {"schema_version": 1, "name": "ddp-bench-mlp",
            "nodes": [{"id": i, "type": t, "params": p, "position": {"x": 0.0, "y": 0.0}} for i, t, p in nodes],
            "edges": [{"source": a[0], "source_port": "out", "target": b[0], "target_port": "in"}
                      for a, b in zip(nodes, nodes[1:], strict=False)]}


def step_seconds(document: dict[str, Any], cache: Path, folder: Path, kind: str, epochs: int,
                 distributed: dict[str, Any]) -> float:
    backend = "nccl" if kind == "cuda" else "gloo"
    config = parse_config({"epochs": epochs, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.01},
                           "device": {"kind": kind, "gpus": 2}, "distributed": {"backend": backend, **distributed}})
    result = launch(world=2, device_kind=kind, document=document, config=config, cache=cache, classes=10,
                    resize=None, augmentation=None, checkpoint_dir=folder / "ckpt", resume_from=None,
                    layer_flops={}, workdir=folder, emit=lambda _event: None, should_cancel=lambda: False)
    last = result.history[-1]
    steps = last["step"] - (result.history[-2]["step"] if len(result.history) > 1 else 0)
    return float(last["train_seconds"]) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kind = "cuda" if torch.cuda.is_available() and torch.cuda.device_count() >= 2 else "cpu"
    width, epochs, rounds = (4096, 6, args.rounds) if kind == "cuda" else (2048, 2, args.rounds)
    rounds = 1 if args.quick else rounds
    document = mlp(width)
    params = 64 * width + 2 * width * width + 10 * width + 3 * width + 10
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ingest("image", write_digits(folder), "digits.zip", folder / "work", {})
        cache = folder / "work" / "cache"
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_index in range(rounds):
            for mode_index, (mode, distributed) in enumerate(MODES.items()):
                run = folder / f"round{round_index}-mode{mode_index}"
                times[mode].append(step_seconds(document, cache, run, kind, epochs, distributed))
    where = "NCCL, 2 GPUs" if kind == "cuda" else "gloo, 2 CPU processes"
    print(f"DDP step time on 2 ranks ({where}; {torch.get_num_threads()} threads here), MLP of {params / 1e6:.1f} M "
          f"parameters, global batch 64, last of {epochs} epochs, median of {rounds} interleaved rounds; "
          "ratio to plain DDP (below 1 is faster):")
    base = statistics.median(times["plain DDP (overlap)"])
    for mode, found in times.items():
        median = statistics.median(found)
        print(f"  {mode:<32} {median / base:6.3f}  ({median * 1000:.1f} ms/step)")
    off = statistics.median(times["no overlap (one bucket)"])
    print(f"overlap speedup against the one-bucket baseline: {off / base:.3f}x (goal on GPUs: at least 1.1x)")


if __name__ == "__main__":
    main()
