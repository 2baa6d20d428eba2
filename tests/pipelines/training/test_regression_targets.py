"""Regression on a target in the hundreds of thousands: the engine trains on the scaled target and
reports loss, MAE, RMSE and R² in the data's own units, checked against the best checkpoint's
weights run by hand over the test split."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from builder.graph import compile_graph
from builder.graph.templates import get_template
from pipelines.datasets.cache import SPLIT_CODE, load_small, open_inputs
from pipelines.datasets.ingest import ingest
from pipelines.datasets.targets import resolve
from pipelines.training import checkpoint
from pipelines.training.config import parse_config
from pipelines.training.data import cached_loaders
from pipelines.training.engine import fit
from tests.pipelines.test_target_scaling import price_csv

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def price(tmp_path_factory: Any) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("price")
    result = ingest("table", price_csv(folder / "p.csv", rows=600), "p.csv", folder / "work",
                    {"target_column": "price", "task": "regression"})
    return folder / "work" / "cache", result.recipe


def _mlp(recipe: dict[str, Any]) -> dict[str, Any]:
    document = get_template("tabular_mlp")
    for node in document["nodes"]:
        if node["id"] == "features":
            node["params"]["features"] = len(recipe["features"])
        if node["id"] == "logits":
            node["params"]["out_features"] = 1
    return document


def _train(price: tuple[Path, dict[str, Any]], scaling: str, folder: Path) -> Any:
    cache, recipe = price
    config = parse_config({"task": "regression", "epochs": 6, "target_scaling": scaling})
    target = resolve(scaling, recipe["target_scaling"])
    data = cached_loaders(cache, batch_size=config.batch_size, seed=0, classes=0, target=target)
    return fit(compile_graph(_mlp(recipe)), data, config, device=CPU, checkpoint_dir=folder), target


def test_a_scaled_target_trains_and_reports_in_the_datas_units(price: tuple[Path, dict[str, Any]],
                                                               tmp_path: Path) -> None:
    (scaled, target), (raw, _none) = (_train(price, "standardize", tmp_path / "s"),
                                      _train(price, "none", tmp_path / "n"))
    assert scaled.test_metrics["r2"] > 0.9, scaled.test_metrics
    assert raw.test_metrics["r2"] < 0, raw.test_metrics  # outputs near 0 against a mean of 2e5
    # Errors in the price's units (std 5e4): far from the scaled target's unit scale.
    assert 1e3 < scaled.test_metrics["rmse"] < 2e4 and scaled.test_metrics["mae"] < scaled.test_metrics["rmse"]
    assert scaled.test_metrics["loss"] == pytest.approx(scaled.test_metrics["rmse"] ** 2, rel=1e-4)
    assert scaled.history[-1]["train_loss"] > 1e6 and scaled.history[-1]["val"]["loss"] > 1e6
    assert scaled.best["r2"] == max(h["val"]["r2"] for h in scaled.history)  # best by RMSE is best by R² too

    # The same figures by hand: the best checkpoint's network, the inverse, the test rows.
    cache, recipe = price
    model = compile_graph(_mlp(recipe))
    model.load_state_dict(checkpoint.load(tmp_path / "s" / checkpoint.BEST).weights)
    splits = load_small(cache, "splits")
    test = splits == SPLIT_CODE["test"]
    x = torch.from_numpy(np.asarray(open_inputs(cache))[test])
    actual = load_small(cache, "targets")[test].astype(np.float64)
    with torch.no_grad():
        predicted = target.inverse(model.eval()(x)).double().numpy().reshape(-1)
    r2 = 1 - ((predicted - actual) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    assert scaled.test_metrics["r2"] == pytest.approx(r2, abs=1e-5)
    assert scaled.test_metrics["mae"] == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-4)

    plots = scaled.test_metrics
    assert plots["predicted_vs_actual"]["total"] == int(test.sum())
    assert min(plots["predicted_vs_actual"]["actual"]) == pytest.approx(actual.min(), rel=1e-5)
    assert sum(plots["residual_histogram"]["counts"]) == int(test.sum())
    assert "predicted_vs_actual" not in scaled.best and "residual_histogram" not in scaled.history[-1]["val"]


def test_log_scaling_trains_a_positive_target(price: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    result, target = _train(price, "log", tmp_path / "l")
    assert target.kind == "log"
    assert result.test_metrics["r2"] > 0.8 and result.test_metrics["rmse"] > 1e3


def test_data_parallel_ranks_train_on_the_scaled_target(price: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    from pipelines.training.distributed import launch

    cache, recipe = price
    config = parse_config({"task": "regression", "epochs": 6, "target_scaling": "standardize",
                           "distributed": {"backend": "gloo"}, "device": {"kind": "cpu", "gpus": 2}})
    target = resolve("standardize", recipe["target_scaling"])
    assert target is not None
    result = launch(world=2, device_kind="cpu", document=_mlp(recipe), config=config, cache=cache, classes=0,
                    resize=None, augmentation=None, checkpoint_dir=tmp_path / "ddp", resume_from=None,
                    layer_flops={}, workdir=tmp_path / "work", emit=lambda _event: None,
                    should_cancel=lambda: False, target=target.to_dict())
    # Without the target's scaling in every rank the network would predict near 0: R² far below 0.
    assert result.test_metrics["r2"] > 0.8 and result.test_metrics["rmse"] > 1e3, result.test_metrics
