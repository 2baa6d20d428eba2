"""The engine on real data: LeNet-5 on the digits sample in each precision mode, resume from a
checkpoint, cancel, dynamic precision's decisions and the bytes saved for backward."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from builder.graph import compile_graph
from pipelines.training import checkpoint
from pipelines.training.config import PrecisionConfig, parse_config
from pipelines.training.data import cached_loaders
from pipelines.training.engine import fit
from pipelines.training.precision import PrecisionPolicy, count_saved_bytes

CPU = torch.device("cpu")


def _fit(graph: dict, cache: Path, flops: dict, folder: Path | None, resize: tuple[int, int] | None = (32, 32),
         **config: Any) -> Any:
    cfg = parse_config({"batch_size": 32, "stats_every": 10, **config})
    data = cached_loaders(cache, batch_size=cfg.batch_size, seed=cfg.seed, classes=10, resize=resize)
    events: list[dict[str, Any]] = []
    result = fit(compile_graph(graph), data, cfg, device=CPU, checkpoint_dir=folder, layer_flops=flops,
                 emit=events.append)
    return result, events


# Half precision on a CPU is slow (autocast has few fast kernels there, fp16 ~17x slower than
# fp32): LeNet-5 at 32x32 in fp32, and in low precision a tiny CNN at the digits' own 8x8.
@pytest.mark.parametrize("mode", ["fp32", "fp16", "bf16", "dynamic"])
def test_digits_reach_95_percent_in_each_precision(mode: str, lenet: dict, tiny_cnn: dict, digits_cache: Path,
                                                   lenet_flops: dict, tmp_path: Path) -> None:
    graph, resize, flops = (lenet, (32, 32), lenet_flops) if mode == "fp32" else (tiny_cnn, None, {"conv": 9, "logits": 1})
    lr = 5e-3 if mode == "fp32" else 1e-2
    result, events = _fit(graph, digits_cache, flops, tmp_path, resize, epochs=8, optimizer={"lr": lr},
                          schedule={"name": "cosine"}, precision={"precision_mode": mode, "probe_every": 10})
    assert result.status == "succeeded"
    assert result.best["accuracy"] >= 0.95, result.history
    assert result.test_metrics["accuracy"] >= 0.9
    assert {"run.progress", "run.epoch"} <= {e["type"] for e in events}
    progress = next(e for e in events if e["type"] == "run.progress")
    assert "logits" in progress["activations"] and "logits" in progress["gradients"]
    assert result.precision["mode"] == mode
    if mode == "dynamic":
        assert result.precision["probes"] > 0 and result.precision["last_errors"]
        assert 0.0 < result.precision["low_precision_flops_share"] <= 1.0
    if mode == "fp16":
        assert result.precision["loss_scale"] is not None


def test_saved_activation_bytes_shrink_in_low_precision(lenet: dict) -> None:
    model = compile_graph(lenet)
    x = torch.randn(16, 1, 32, 32)
    found = {}
    for mode in ("fp32", "bf16", "fp16"):
        policy = PrecisionPolicy(PrecisionConfig(precision_mode=mode), CPU, model)
        with count_saved_bytes(model) as saved, policy.autocast():
            model(x).sum()
        found[mode] = saved["bytes"]
    assert found["bf16"] <= 0.55 * found["fp32"] and found["fp16"] <= 0.55 * found["fp32"]


def test_dynamic_moves_noisy_layers_to_fp32_with_hysteresis(lenet: dict) -> None:
    model = compile_graph(lenet)
    policy = PrecisionPolicy(PrecisionConfig(precision_mode="dynamic", threshold=1e-4, hysteresis=2), CPU, model,
                             {"c1": 10, "logits": 10})
    x = (torch.randn(8, 1, 32, 32),)
    errors = policy.probe(model, x, step=1)
    assert errors["c1"] > 1e-4 and "c1" in policy.fp32_layers
    first = policy.decisions[0]
    assert {k: first[k] for k in ("step", "to")} == {"step": 1, "to": "fp32"} and first["layer"] in errors
    assert first["reason"] in ("signal", "error") and str(1e-4) in first["detail"]
    assert policy.low_flops_share() < 1.0
    with policy.autocast():
        out = model(*x)
    assert out.dtype == torch.float32  # the last layer runs in fp32 now
    policy.config = PrecisionConfig(precision_mode="dynamic", threshold=1.0, hysteresis=2)
    policy.probe(model, x, step=2)
    assert "c1" in policy.fp32_layers  # one calm probe is not enough
    policy.probe(model, x, step=3)
    assert "c1" not in policy.fp32_layers
    assert [d["to"] for d in policy.decisions if d["layer"] == "c1"] == ["fp32", "bf16"]
    assert policy.decisions[-1]["reason"] == "calm" and len(policy.error_history) == 3


def test_resume_continues_exactly_where_it_stopped(lenet: dict, digits_cache: Path, tmp_path: Path) -> None:
    straight, _ = _fit(lenet, digits_cache, {}, tmp_path / "a", epochs=3)
    first, _ = _fit(lenet, digits_cache, {}, tmp_path / "b", epochs=2)
    resumed, events = _fit(lenet, digits_cache, {}, tmp_path / "b", epochs=3)
    assert any("resumed from epoch-0001" in e.get("message", "") for e in events)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    a = checkpoint.load(checkpoint.latest(tmp_path / "a")).weights
    b = checkpoint.load(checkpoint.latest(tmp_path / "b")).weights
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_cancel_stops_and_keeps_the_last_checkpoint(lenet: dict, digits_cache: Path, tmp_path: Path) -> None:
    cfg = parse_config({"epochs": 50, "batch_size": 32})
    data = cached_loaders(digits_cache, batch_size=32, seed=0, classes=10, resize=(32, 32))
    calls = {"n": 0}
    steps = data.steps_per_epoch

    def cancel_in_second_epoch() -> bool:
        calls["n"] += 1
        return calls["n"] > steps + 3

    result = fit(compile_graph(lenet), data, cfg, device=CPU, checkpoint_dir=tmp_path,
                 should_cancel=cancel_in_second_epoch)
    assert result.status == "cancelled" and result.test_metrics == {}
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-0000"


def test_layer_statistics_match_the_model_and_saved_bytes_carry_over(lenet: dict, digits_cache: Path,
                                                                     lenet_flops: dict) -> None:
    """Every report has consistent per-layer activation figures and finite gradient norms, and the
    bytes saved for backward, measured once in fp32, are every epoch's figure and exactly what a
    forward pass plus the loss saves at that batch size."""
    result, events = _fit(lenet, digits_cache, lenet_flops, None, epochs=2, optimizer={"lr": 5e-3})
    reports = [e for e in events if e["type"] == "run.progress"]
    assert reports
    for report in reports:
        assert set(report["activations"]) >= {"c1", "c3", "f5", "logits"}
        for name, stat in report["activations"].items():
            assert stat["std"] >= 0 and stat["absmax"] >= abs(stat["mean"]), (name, stat)
        assert all(norm > 0 and norm == norm for norm in report["gradients"].values()), report["gradients"]
    saved = [h["saved_tensor_bytes"] for h in result.history]
    assert saved[0] > 0 and saved == [saved[0]] * len(saved)
    model = compile_graph(lenet)
    x = torch.randn(32, 1, 32, 32)
    with count_saved_bytes(model) as counted:
        torch.nn.functional.cross_entropy(model(x), torch.zeros(32, dtype=torch.long))
    assert counted["bytes"] == saved[0]
