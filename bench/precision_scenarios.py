"""The two scenarios that show what ``dynamic`` precision is for, on synthetic in-memory data,
shared by the training bench, the GPU check and the tests.

- ``overflow`` (a): a classifier over unnormalised table values around 1e5. fp16 holds at most
  65504, so autocast's cast of the input is Inf and fixed fp16 never takes a finite step;
  ``dynamic`` (fp16) moves the layers that overflow to fp32 and trains as fp32 does.
- ``offset`` (b): a regression whose target is 1000 plus a signal of spread ~2, trained on the raw
  target. The output layer starts at the training targets' mean (the run option ``output_bias``,
  whose ``auto`` does so for a raw regression target); bf16 keeps 8
  significant bits, so near 1000 it rounds to multiples of 4 and fixed bf16's error cannot go
  below ~1.15; ``dynamic`` (bf16) finds that the output layer loses the signal and runs it in fp32.

``run`` trains one scenario in one precision with ``engine.fit`` and returns the figures the
bench prints: accuracy or RMSE on the test split, the low-precision share of FLOPs, the decisions
and the allocator peak (``memory.measure_training_step``).
"""
from __future__ import annotations

from typing import Any

import torch

from builder.graph import compile_graph, validate
from pipelines.training.config import parse_config
from pipelines.training.engine import fit
from pipelines.training.memory import measure_training_step
from pipelines.training.optim import build_loss
from pipelines.training.output_bias import start_at_mean, targets_mean
from pipelines.training.precision import PrecisionPolicy
from pipelines.training.session import TrainData

FEATURES = 8
OFFSET = 1000.0


def mlp(out_features: int, hidden: int = 64, batch_norm: bool = True) -> dict[str, Any]:
    """vector_input(8) -> [linear -> batch norm -> relu] x 2 -> linear."""
    nodes: list[dict[str, Any]] = [{"id": "features", "type": "vector_input", "params": {"features": FEATURES}}]
    previous = "features"
    for i in (1, 2):
        block = [{"id": f"fc{i}", "type": "linear", "params": {"out_features": hidden}}]
        if batch_norm:
            block.append({"id": f"bn{i}", "type": "batch_norm1d", "params": {}})
        block.append({"id": f"relu{i}", "type": "relu", "params": {}})
        nodes += block
    nodes.append({"id": "out", "type": "linear", "params": {"out_features": out_features}})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:], strict=False)]
    del previous
    return {"schema_version": 1, "name": "scenario mlp", "nodes": nodes, "edges": edges}


def _split(x: torch.Tensor, y: torch.Tensor, batch: int) -> TrainData:
    n = len(x)
    cut1, cut2 = int(n * 0.7), int(n * 0.85)

    def batches(lo: int, hi: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(x[i:min(i + batch, hi)], y[i:min(i + batch, hi)]) for i in range(lo, hi, batch)]

    train = batches(0, cut1)
    return TrainData(train=train, val=batches(cut1, cut2), test=batches(cut2, n), classes=2,
                     steps_per_epoch=len(train))


def overflow_data(rows: int = 1200, seed: int = 0, batch: int = 32) -> TrainData:
    """Two classes of 8 raw features 1e5 + 1e4 z; the class is the sign of z0 + z1 - z2."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, FEATURES, generator=g)
    y = (z[:, 0] + z[:, 1] - z[:, 2] > 0).long()
    return _split(1e5 + 1e4 * z, y, batch)


def offset_data(rows: int = 1200, seed: int = 0, batch: int = 32) -> TrainData:
    """Target 1000 + z . w (spread ~2) from 8 standardised features z."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(rows, FEATURES, generator=g)
    w = torch.tensor([1.2, -0.8, 0.6, 0.5, -0.4, 0.3, 0.2, -0.1])
    y = OFFSET + z @ w
    data = _split(z, y.unsqueeze(1), batch)
    data.classes = 0
    return data


SCENARIOS: dict[str, dict[str, Any]] = {
    "overflow": {"task": "classification", "low": "fp16", "data": overflow_data, "out": 2, "lr": 3e-3},
    "offset": {"task": "regression", "low": "bf16", "data": offset_data, "out": 1, "lr": 3e-3},
}


def run(name: str, mode: str, *, epochs: int = 6, rows: int = 1200, device: torch.device | None = None,
        threshold: float = 0.01) -> dict[str, Any]:
    """Train scenario ``name`` in ``mode`` ("fp32", its fixed low precision, or "dynamic")."""
    spec = SCENARIOS[name]
    device = device or torch.device("cpu")
    document = mlp(spec["out"])
    report = validate(document, batch_size=32)
    flops = {k: v.flops for k, v in report.nodes.items() if v.flops}
    precision: dict[str, Any] = {"precision_mode": mode, "threshold": threshold}
    if mode == "dynamic":
        precision["low_dtype"] = spec["low"]
    raw = {"task": spec["task"], "epochs": epochs, "batch_size": 32, "optimizer": {"lr": spec["lr"]},
           "schedule": {"name": "cosine"},
           "precision": precision, "stats_every": 10_000, "seed": 0,
           **({"target_scaling": "none", "output_bias": "target_mean"} if spec["task"] == "regression" else {})}
    config = parse_config(raw)
    data = spec["data"](rows=rows)
    result = fit(compile_graph(document), data, config, device=device, layer_flops=flops)
    metrics = result.test_metrics
    figure = metrics.get("accuracy") if spec["task"] == "classification" else metrics.get("rmse")
    return {"scenario": name, "mode": mode, "status": result.status, "metric": figure,
            "metric_name": "accuracy" if spec["task"] == "classification" else "rmse",
            "low_flops_share": result.precision.get("low_precision_flops_share", 0.0),
            "decisions": result.precision.get("decisions", []), "precision": result.precision,
            "peak": peak(name, mode, device)}


def peak(name: str, mode: str, device: torch.device) -> dict[str, Any]:
    """Allocator peak of one training step of the scenario's model in ``mode`` (for dynamic: after
    a probe has placed the layers)."""
    spec = SCENARIOS[name]
    document = mlp(spec["out"])
    torch.manual_seed(0)
    model = compile_graph(document).to(device)
    data = spec["data"](rows=256)
    if spec["task"] == "regression":  # as ``run`` starts it (output_bias), so a probe places the layers alike
        start_at_mean(model, targets_mean(data.train) or [0.0])
    x, y = (t.to(device) for t in data.train[0])
    raw = {"precision_mode": mode, **({"low_dtype": spec["low"]} if mode == "dynamic" else {})}
    config = parse_config({"task": spec["task"], "precision": raw})
    policy = PrecisionPolicy(config.precision, device, model)
    if mode == "dynamic":
        policy.probe(model, (x[:16],), step=1)
    loss = build_loss("cross_entropy" if spec["task"] == "classification" else "mse")
    optimizer = torch.optim.Adam(model.parameters())
    found = measure_training_step(model, x, y, loss, optimizer, policy.autocast, device)
    policy.remove_gates()
    return found
