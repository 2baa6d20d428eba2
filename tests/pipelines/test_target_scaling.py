"""Regression targets: statistics learnt on the training split at ingest, the three scalings, and
the inverse that follows the network into exports."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.datasets.cache import SPLIT_CODE, load_small
from pipelines.datasets.ingest import ingest
from pipelines.datasets.targets import (
    InverseTarget,
    TargetScalingError,
    TargetTransform,
    resolve,
    statistics_for,
    target_statistics,
)


def price_csv(path: Path, rows: int = 200, shift: float = 2e5, scale: float = 5e4) -> Path:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, 3))
    y = shift + scale * (x @ np.array([0.6, -0.5, 0.3]) + 0.1 * rng.normal(size=rows))
    lines = ["a,b,c,price"] + [f"{a:.5f},{b:.5f},{c:.5f},{t:.2f}" for (a, b, c), t in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_learns_the_target_statistics_on_the_training_split_only(tmp_path: Path, work: Path) -> None:
    result = ingest("table", price_csv(tmp_path / "p.csv"), "p.csv", work, {"target_column": "price"})
    cache = work / "cache"
    targets, splits = load_small(cache, "targets").astype(np.float64), load_small(cache, "splits")
    train = targets[splits == SPLIT_CODE["train"]]
    stats = result.recipe["target_scaling"]
    assert json.loads((cache / "recipe.json").read_text())["target_scaling"] == stats
    assert stats["split"] == "train" and stats["count"] == len(train) < len(targets)
    assert stats["mean"] == pytest.approx(train.mean()) and stats["std"] == pytest.approx(train.std())
    # Not the statistics of every row: the validation and test targets stay unseen.
    assert stats["mean"] != pytest.approx(targets.mean(), rel=1e-9)
    assert stats["log_mean"] == pytest.approx(np.log(train).mean())
    assert stats["min_all_splits"] == pytest.approx(targets.min())
    assert 1.5e5 < stats["mean"] < 2.5e5 and 2e4 < stats["std"] < 8e4
    assert any(step.startswith("target:") for step in result.recipe["steps"])
    assert statistics_for({}, cache) == pytest.approx(stats)  # an older recipe: the same, from the cache


def test_classification_tables_get_no_target_statistics(tmp_path: Path, work: Path) -> None:
    from tests.dataset_factories import table_csv

    result = ingest("table", table_csv(tmp_path / "t.csv"), "t.csv", work, {"target_column": "label"})
    assert "target_scaling" not in result.recipe


def test_the_scalings_and_their_inverses() -> None:
    y = torch.tensor([150_000.0, 200_000.0, 260_000.0])
    stats = target_statistics(y.numpy(), np.array([0, 0, 0]))
    standard = resolve("standardize", stats)
    assert standard is not None and standard.kind == "standardize"
    z = standard.forward(y)
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-6) and float(z.std(unbiased=False)) == pytest.approx(1.0)
    assert torch.allclose(standard.inverse(z), y, rtol=1e-6)
    log = resolve("log", stats)
    assert log is not None and log.mean == pytest.approx(float(np.log(y.numpy()).mean()))
    assert torch.allclose(log.inverse(log.forward(y)), y, rtol=1e-5)
    assert resolve("none", stats) is None
    assert TargetTransform.from_dict(standard.to_dict()) == standard and TargetTransform.from_dict(None) is None


def test_log_scaling_refuses_non_positive_targets_in_any_split() -> None:
    stats = target_statistics(np.array([1.0, 2.0, -3.0]), np.array([0, 0, 2]))  # the test row is negative
    assert stats["log_mean"] is not None and stats["min_all_splits"] == -3.0
    with pytest.raises(TargetScalingError, match="above 0"):
        resolve("log", stats)
    with pytest.raises(TargetScalingError, match="above 0"):
        resolve("log", target_statistics(np.array([0.0, 2.0]), np.array([0, 0])))


def test_a_constant_target_scales_by_one() -> None:
    stats = target_statistics(np.full(5, 7.0), np.zeros(5))
    assert stats["std"] == 1.0 and math.isfinite(stats["mean"])


def test_the_inverse_module_exports_with_the_network() -> None:
    network = torch.nn.Linear(3, 1)
    transform = TargetTransform("standardize", 2e5, 5e4)
    wrapped = InverseTarget(network, transform).eval()
    x = torch.randn(4, 3)
    expected = transform.inverse(network(x)).detach()
    assert torch.allclose(wrapped(x), expected)
    scripted = torch.jit.script(wrapped)
    assert torch.allclose(scripted(x), expected)
    assert set(wrapped.state_dict()) == {"network.weight", "network.bias", "scale", "shift"}
