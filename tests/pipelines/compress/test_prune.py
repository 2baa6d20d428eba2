"""Structured pruning of trained digits models, mapped back into graph documents."""
from __future__ import annotations

import pytest
import torch

from builder.graph import compile_graph, validate
from pipelines.compress.prune import PruneConfig, prune_package
from pipelines.compress.report import compare, measure_package
from pipelines.export.package import PackageError
from tests.model_factories import samples, trained_package


def _check_pruned(result, kind: str) -> None:
    """The new document validates, compiles, loads the pruned weights strictly and gives the same outputs."""
    report = validate(result.package.document)
    assert report.ok, report.errors
    model = compile_graph(result.package.document)
    model.load_state_dict(result.package.weights, strict=True)
    model.eval()
    (x,), _ = samples(kind, 8)
    with torch.inference_mode():
        assert model(x).shape == (8, 10)
    assert result.parity_max_abs_diff <= 1e-4


def test_resnet_ratio_prunes_residual_and_depthwise_consistently() -> None:
    package = trained_package("resnet")
    xs, ys = samples("resnet", 64)
    result = prune_package(package, PruneConfig(method="l2", ratio=0.5), xs, ys)
    _check_pruned(result, "resnet")
    changes = result.changes
    # The residual add ties the stem and the block's second conv: they keep the same width.
    assert changes["stem"]["out_channels"][1] == changes["b1_conv2"]["out_channels"][1]
    # The depthwise conv keeps groups == channels.
    dw = next(n for n in result.package.document["nodes"] if n["id"] == "dw")
    assert dw["params"]["groups"] == dw["params"]["out_channels"] < 32
    # The classifier keeps its 10 classes.
    assert "logits" not in changes


def test_concat_model_prunes_branches_and_the_linear_after_flatten() -> None:
    package = trained_package("concat")
    xs, ys = samples("concat", 64)
    result = prune_package(package, PruneConfig(method="l1", ratio=0.4, round_to=2), xs, ys)
    _check_pruned(result, "concat")
    assert set(result.changes) >= {"a", "b", "hidden"}
    assert all(after % 2 == 0 for ch in result.changes.values() for _before, after in ch.values())


@pytest.mark.parametrize("config", [
    {"method": "taylor", "scope": "global", "target_params": 3000},
    {"method": "bn_scale", "target_flops": 60_000},
])
def test_targets_are_reached(config: dict) -> None:
    package = trained_package("resnet")
    xs, ys = samples("resnet", 64)
    result = prune_package(package, PruneConfig(**config), xs, ys)
    _check_pruned(result, "resnet")
    assert result.target_reached
    totals = validate(result.package.document)
    if "target_params" in config:
        assert totals.params <= config["target_params"]
    else:
        assert totals.flops <= config["target_flops"] * 1.05  # validate counts bias adds too


def test_report_has_before_after_and_ratios() -> None:
    package = trained_package("concat")
    xs, ys = samples("concat", 64)
    result = prune_package(package, PruneConfig(ratio=0.5), xs, ys)
    report = compare(measure_package(package, xs, ys, repeats=2), measure_package(result.package, xs, ys, repeats=2))
    assert report["ratios"]["params"] > 1.5 and report["ratios"]["flops"] > 1.5
    assert report["ratios"]["file_bytes"] > 1.5
    assert report["before"]["latency_ms"] > 0 and report["after"]["latency_ms"] > 0
    assert 0 <= report["after"]["accuracy"] <= 1 and report["accuracy_change_points"] is not None


@pytest.mark.parametrize("bad", [{}, {"ratio": 0.5, "target_params": 10}, {"ratio": 1.5}, {"method": "random", "ratio": 0.1}])
def test_config_is_checked(bad: dict) -> None:
    with pytest.raises(ValueError):
        PruneConfig(**bad)


def test_weights_that_do_not_fit_are_refused() -> None:
    package = trained_package("mlp")
    package.weights["fc1.weight"] = torch.zeros(3, 3)
    with pytest.raises((PackageError, RuntimeError)):
        package.module()
