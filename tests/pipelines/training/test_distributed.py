"""Data parallel: two gloo processes on the CPU end where one process on the same global batch does."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from builder.graph import compile_graph
from pipelines.training import checkpoint
from pipelines.training.config import parse_config
from pipelines.training.data import cached_loaders
from pipelines.training.distributed import launch
from pipelines.training.engine import fit


@pytest.mark.parametrize("overlap", [True, False])
def test_two_gloo_ranks_match_one_process(overlap: bool, lenet: dict, digits_cache: Path, tmp_path: Path) -> None:
    config = parse_config({"epochs": 1, "batch_size": 64, "optimizer": {"name": "sgd", "lr": 0.05},
                           "distributed": {"backend": "gloo", "overlap": overlap}, "device": {"kind": "cpu", "gpus": 2}})
    events: list[dict] = []
    result = launch(world=2, device_kind="cpu", document=lenet, config=config, cache=digits_cache, classes=10,
                    resize=(32, 32), augmentation=None, checkpoint_dir=tmp_path / "ddp", resume_from=None,
                    layer_flops={}, workdir=tmp_path / "work", emit=events.append, should_cancel=lambda: False)
    assert result.status == "succeeded" and any(e["type"] == "run.epoch" for e in events)
    single = fit(compile_graph(lenet), cached_loaders(digits_cache, batch_size=64, seed=0, classes=10, resize=(32, 32)),
                 config, device=torch.device("cpu"), checkpoint_dir=tmp_path / "one")
    assert single.history[0]["step"] == result.history[0]["step"]
    a = checkpoint.load(checkpoint.latest(tmp_path / "ddp")).weights
    b = checkpoint.load(checkpoint.latest(tmp_path / "one")).weights
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=2e-5, rtol=1e-4)
