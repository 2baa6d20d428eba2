from __future__ import annotations

import pytest

from pipelines.training.config import ConfigError, parse_config


def test_defaults_fill_in_the_loss() -> None:
    assert parse_config({}).loss == "cross_entropy"
    assert parse_config({"task": "regression"}).loss == "mse"


@pytest.mark.parametrize(("raw", "field"), [
    ({"epochs": 0}, "config.epochs"),
    ({"optimizer": {"name": "rmsprop"}}, "config.optimizer.name"),
    ({"optimizer": {"lr": -1}}, "config.optimizer.lr"),
    ({"precision": {"precision_mode": "fp8"}}, "config.precision.precision_mode"),
    ({"precision": {"threshold": 0}}, "config.precision.threshold"),
    ({"distributed": {"backend": "mpi"}}, "config.distributed.backend"),
    ({"schedule": {"name": "cosine", "extra": 1}}, "config.schedule.extra"),
    ({"task": "regression", "loss": "cross_entropy"}, "config.loss"),
    ({"device": {"gpus": 0}}, "config.device.gpus"),
])
def test_bad_values_name_their_field(raw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize(("task", "metric"), [("classification", "dice"), ("segmentation", "accuracy"),
                                              ("regression", "f1_macro")])
def test_early_stopping_follows_a_metric_the_task_measures(task: str, metric: str) -> None:
    # Another task's metric is never in the validation figures: the run would never improve, keep no
    # best checkpoint and stop after `patience` epochs.
    with pytest.raises(ConfigError) as caught:
        parse_config({"task": task, "early_stopping": {"enabled": True, "metric": metric}})
    assert caught.value.field == "config.early_stopping.metric"
    assert repr(metric) in caught.value.message and task in caught.value.message
    assert parse_config({"task": task, "early_stopping": {"enabled": True, "metric": "loss"}}).early_stopping.enabled
    # Off, the metric is never read: a saved config with it still loads.
    assert parse_config({"task": task, "early_stopping": {"enabled": False, "metric": metric}}).early_stopping.metric == metric


def test_each_task_can_stop_on_its_own_metrics() -> None:
    for task, metric in [("classification", "f1_macro"), ("regression", "r2"), ("segmentation", "iou")]:
        assert parse_config({"task": task, "early_stopping": {"enabled": True, "metric": metric}}).early_stopping.metric == metric
