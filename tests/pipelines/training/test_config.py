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
