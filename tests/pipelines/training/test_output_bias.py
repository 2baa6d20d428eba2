"""``output_bias``: a regression on the raw target starts its output layer at the training targets'
mean; a bad request names ``config.output_bias``; a graph that cannot take it says why."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from bench.precision_scenarios import OFFSET, mlp, offset_data
from builder.graph import compile_graph
from pipelines.datasets.targets import TargetTransform
from pipelines.training.config import ConfigError, parse_config
from pipelines.training.engine import TrainingError
from pipelines.training.output_bias import output_layer, targets_mean
from pipelines.training.session import prepare


def _prepared(config: dict[str, Any], document: dict[str, Any] | None = None,
              target: TargetTransform | None = None) -> tuple[torch.nn.Module, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    data = offset_data(rows=200)
    data.target = target
    session = prepare(compile_graph(document or mlp(1)), data, parse_config({"task": "regression", **config}),
                      device=torch.device("cpu"), layer_flops=None, emit=events.append, ddp=None,
                      init_weights=None, freeze=None)
    return session.inner, events


def _bias(model: torch.nn.Module) -> float:
    bias = model.get_submodule("out").bias
    assert isinstance(bias, torch.Tensor)
    return float(bias.item())


def test_auto_starts_a_raw_regression_at_the_targets_mean() -> None:
    model, events = _prepared({"target_scaling": "none"})
    mean = targets_mean(offset_data(rows=200).train)
    assert mean is not None and abs(mean[0] - OFFSET) < 1
    assert _bias(model) == pytest.approx(mean[0])
    assert any(e.get("message", "").startswith("output layer 'out' bias starts at") for e in events)


def test_auto_leaves_a_scaled_target_and_layer_default_leaves_any() -> None:
    standardised = TargetTransform("standardize", OFFSET, 2.0)
    for config, target in (({"target_scaling": "standardize"}, standardised),
                           ({"target_scaling": "none", "output_bias": "layer_default"}, None)):
        model, events = _prepared(config, target=target)
        assert abs(_bias(model)) < 1, config
        assert not any("bias starts" in e.get("message", "") for e in events)


def test_target_mean_is_taken_in_the_units_the_network_learns() -> None:
    model, _ = _prepared({"output_bias": "target_mean"}, target=TargetTransform("standardize", OFFSET - 1, 2.0))
    mean = targets_mean(offset_data(rows=200).train)
    assert mean is not None
    assert _bias(model) == pytest.approx((mean[0] - (OFFSET - 1)) / 2.0, abs=1e-4)


def test_target_mean_is_refused_for_classification_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"task": "classification", "output_bias": "target_mean"})
    assert caught.value.field == "config.output_bias" and "regression" in caught.value.message


def test_a_graph_ending_in_an_activation_cannot_take_it() -> None:
    document = mlp(1)
    document["nodes"].append({"id": "squash", "type": "sigmoid", "params": {}})
    document["edges"].append({"source": "out", "target": "squash"})
    assert output_layer(compile_graph(document)) is None
    with pytest.raises(TrainingError) as caught:
        _prepared({"output_bias": "target_mean"}, document)
    assert caught.value.code == "output_bias" and "layer with a bias" in caught.value.message
    _, events = _prepared({"target_scaling": "none"}, document)  # auto: says why and goes on
    assert any(e.get("level") == "warning" and "output_bias auto" in e["message"] for e in events)


def test_the_output_layer_is_found_through_a_flatten() -> None:
    document = mlp(1)
    document["nodes"].append({"id": "flat", "type": "flatten", "params": {}})
    document["edges"].append({"source": "out", "target": "flat"})
    found = output_layer(compile_graph(document))
    assert found is not None and found[0] == "out"
