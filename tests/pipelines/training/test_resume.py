"""Exact resume: a run stopped after an epoch and resumed ends with the weights an uninterrupted
run ends with, bit for bit, with augmentation, dropout and stochastic depth drawing random numbers
all along."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from builder.graph import compile_graph
from pipelines.datasets.loader import CachedDataset
from pipelines.training import checkpoint
from pipelines.training.config import parse_config
from pipelines.training.data import cached_loaders
from pipelines.training.engine import fit

CPU = torch.device("cpu")
AUGMENT = {"flip_horizontal": True, "rotate_degrees": 10.0, "crop_scale": 0.8, "intensity_jitter": 0.1}


def _random_lenet(lenet: dict[str, Any]) -> dict[str, Any]:
    """LeNet-5 with a stochastic-depth branch around f6 and dropout before the logits, so every
    training step draws from the global torch RNG as well as from the augmentation generator."""
    doc = copy.deepcopy(lenet)
    doc["nodes"] += [
        {"id": "depth", "type": "stochastic_depth", "params": {"p": 0.3}},
        {"id": "skip", "type": "linear", "params": {"out_features": 84}},
        {"id": "join", "type": "add", "params": {}},
        {"id": "drop", "type": "dropout", "params": {"p": 0.3}},
    ]
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "logits"] + [
        {"source": "tanh4", "source_port": "out", "target": "depth", "target_port": "in"},
        {"source": "tanh3", "source_port": "out", "target": "skip", "target_port": "in"},
        {"source": "depth", "source_port": "out", "target": "join", "target_port": "in0"},
        {"source": "skip", "source_port": "out", "target": "join", "target_port": "in1"},
        {"source": "join", "source_port": "out", "target": "drop", "target_port": "in"},
        {"source": "drop", "source_port": "out", "target": "logits", "target_port": "in"},
    ]
    return doc


def _fit(graph: dict[str, Any], cache: Path, folder: Path, epochs: int) -> Any:
    cfg = parse_config({"batch_size": 32, "epochs": epochs, "seed": 3, "optimizer": {"lr": 5e-3},
                        "augmentation": AUGMENT})
    data = cached_loaders(cache, batch_size=cfg.batch_size, seed=cfg.seed, classes=10, resize=(32, 32),
                          augmentation=AUGMENT)
    events: list[dict[str, Any]] = []
    result = fit(compile_graph(graph), data, cfg, device=CPU, checkpoint_dir=folder, emit=events.append)
    return result, events


def test_resume_with_augmentation_dropout_and_stochastic_depth_is_exact(
        lenet: dict[str, Any], digits_cache: Path, tmp_path: Path) -> None:
    graph = _random_lenet(lenet)
    straight, _ = _fit(graph, digits_cache, tmp_path / "straight", epochs=3)
    _fit(graph, digits_cache, tmp_path / "stopped", epochs=1)  # stops after epoch 0's checkpoint
    resumed, events = _fit(graph, digits_cache, tmp_path / "stopped", epochs=3)
    assert any("resumed from epoch-0000" in e.get("message", "") for e in events)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    a, b = (checkpoint.load(tmp_path / run / "epoch-0002").weights for run in ("straight", "stopped"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]


def test_augmentation_draws_depend_only_on_seed_and_epoch(digits_cache: Path) -> None:
    """What an epoch augments does not depend on what was drawn before it (a resumed process has
    drawn nothing), and differs from epoch to epoch and from rank to rank."""
    def epoch_batch(seed: int, epoch: int, warm_up: int = 0) -> torch.Tensor:
        data = CachedDataset(digits_cache, "train", augmentation=AUGMENT, seed=seed)
        for _ in range(warm_up):  # the draws of earlier epochs, in an uninterrupted process
            data[list(range(16))]
        data.set_epoch(epoch)
        return data[list(range(16))][0]

    first = epoch_batch(0, 2)
    assert torch.equal(first, epoch_batch(0, 2, warm_up=3))
    assert not torch.equal(first, epoch_batch(0, 3))
    assert not torch.equal(first, epoch_batch(1, 2))  # rank 1 of the same run (seed + rank)
    plain = CachedDataset(digits_cache, "train")[list(range(16))][0]
    assert not torch.equal(first, plain)  # the augmentation did change the images
