"""Checkpoints: atomic, readable without pickle, and complete enough to resume exactly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pipelines.training import checkpoint


def test_save_load_round_trip_and_latest_pointer(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    tensors, meta = checkpoint.optimizer_state(optimizer)
    for epoch in (0, 1):
        checkpoint.save(tmp_path, epoch, checkpoint.model_weights(model), tensors, {"optimizer": meta, "epoch": epoch},
                        best=epoch == 0)
    latest = checkpoint.latest(tmp_path)
    assert latest is not None and latest.name == "epoch-0001"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "epoch-0001", "latest.json"]
    loaded = checkpoint.load(latest)
    assert torch.equal(loaded.weights["weight"], model.weight.detach())
    other = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    checkpoint.load_optimizer_state(other, loaded.optimizer_tensors, loaded.state["optimizer"])
    assert torch.equal(other.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_a_half_written_checkpoint_is_never_picked(tmp_path: Path) -> None:
    checkpoint.save(tmp_path, 0, {"w": torch.ones(2)}, {}, {"epoch": 0})
    (tmp_path / ".tmp-crashed").mkdir()  # what a kill during a write leaves behind
    (tmp_path / ".tmp-crashed" / "weights.safetensors").write_bytes(b"\0" * 10)
    assert checkpoint.latest(tmp_path) == tmp_path / "epoch-0000"
    assert json.loads((tmp_path / "latest.json").read_text())["epoch"] == 0


def test_rng_state_round_trips_through_json_and_safetensors() -> None:
    tensors, meta = checkpoint.rng_state()
    expected = torch.rand(3)
    checkpoint.restore_rng(tensors, json.loads(json.dumps(meta)))
    assert torch.equal(torch.rand(3), expected)


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("pwned",))

    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(1), "payload": Evil()}, path)
    with pytest.raises(Exception, match="(?i)weights only|unsupported|global"):
        checkpoint.load_weights_file(path)
    torch.save({"w": torch.ones(1)}, path)
    assert torch.equal(checkpoint.load_weights_file(path)["w"], torch.ones(1))
