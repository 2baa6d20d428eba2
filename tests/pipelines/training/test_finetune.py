"""Fine-tuning in the engine: starting weights loaded leniently, frozen nodes left alone, and the
transfer-learning comparison: LeNet-5 pretrained on digits 0-6, then trained on a few hundred
samples of a new task (digits 7-9) with its convolutions frozen, against the same network trained
from scratch on the same samples."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from builder.graph import compile_graph
from pipelines.datasets.loader import CachedDataset
from pipelines.training.config import FINETUNE_LR, parse_config
from pipelines.training.data import resize_to
from pipelines.training.engine import TrainData, TrainingError, fit
from pipelines.training.finetune import freeze_nodes, load_initial_weights, replace_head

CPU = torch.device("cpu")
OLD, NEW = range(0, 7), range(7, 10)
FEW = 250  # training samples of the new task
SEEDS = (0, 1, 2)  # each draws its own FEW samples: one draw of a small set is too noisy to compare


def _split(cache: Path, splits: tuple[str, ...], digits: range) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for split in splits:
        dataset = CachedDataset(cache, split)
        x, y = dataset[list(range(len(dataset)))]
        keep = (y >= digits.start) & (y < digits.stop)
        xs.append(x[keep])
        ys.append(y[keep] - digits.start)
    return torch.cat(xs), torch.cat(ys)


def _data(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor], classes: int,
          seed: int = 0) -> TrainData:
    x, y = train
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    batches = [(x[order[i:i + 20]], y[order[i:i + 20]]) for i in range(0, len(y), 20)]
    return TrainData(train=batches, val=[val], test=None, classes=classes, steps_per_epoch=len(batches),
                     transform=resize_to((32, 32)))


def _config(**config: Any) -> Any:
    return parse_config({"batch_size": 20, "stats_every": 1000, **config})


def test_pretrained_and_frozen_beats_scratch_on_a_few_samples(lenet: dict, digits_cache: Path,
                                                              tmp_path: Path) -> None:
    old_doc, _ = replace_head(lenet, "logits", len(OLD))
    new_doc, head = replace_head(old_doc, "logits", len(NEW))
    assert head == "logits"
    pretrained = compile_graph(old_doc)
    fit(pretrained, _data(_split(digits_cache, ("train",), OLD), _split(digits_cache, ("val",), OLD), len(OLD)),
        _config(epochs=10, optimizer={"lr": 5e-3}), device=CPU)
    weights = tmp_path / "pretrained.safetensors"
    save_file({k: v.contiguous() for k, v in pretrained.state_dict().items()}, str(weights))

    new_train = _split(digits_cache, ("train",), NEW)
    held_out = _split(digits_cache, ("val", "test"), NEW)  # both splits: ~100 samples, not ~50
    scratch, tuned = [], []
    for seed in SEEDS:
        pick = torch.randperm(len(new_train[1]), generator=torch.Generator().manual_seed(seed))[:FEW]
        few = (new_train[0][pick], new_train[1][pick])
        result = fit(compile_graph(new_doc), _data(few, held_out, len(NEW), seed),
                     _config(epochs=6, seed=seed, optimizer={"lr": 5e-3}), device=CPU)
        scratch.append(result.best["accuracy"])
        model = compile_graph(new_doc)
        # Only the dense layers train: a higher rate than the fine-tuning default suits a fresh head.
        result = fit(model, _data(few, held_out, len(NEW), seed),
                     _config(epochs=6, seed=seed, optimizer={"lr": 2e-2}, freeze=["c1", "c3"],
                             init_weights={"market_version": 1, "drop": ["logits"]}),
                     device=CPU, init_weights=weights)
        tuned.append(result.best["accuracy"])
        assert torch.equal(model.state_dict()["c3.weight"], pretrained.state_dict()["c3.weight"])
    mean_scratch, mean_tuned = sum(scratch) / len(scratch), sum(tuned) / len(tuned)
    print(f"\ndigits 7-9 from {FEW} samples (mean of {len(SEEDS)} draws, {len(held_out[1])} held out): "
          f"from scratch {mean_scratch:.3f} {[round(a, 3) for a in scratch]}, "
          f"pretrained on 0-6 with frozen convolutions {mean_tuned:.3f} {[round(a, 3) for a in tuned]}")
    assert mean_tuned > mean_scratch


def test_weights_load_leniently_and_frozen_nodes_leave_the_optimizer(lenet: dict) -> None:
    source = compile_graph(lenet)
    five, _ = replace_head(lenet, "logits", 5)
    model = compile_graph(five)
    found = load_initial_weights(model, source.state_dict(), drop=["f6"])
    assert "logits.weight" in found["skipped"] and "f6.weight" in found["skipped"]  # wrong shape; dropped
    assert torch.equal(model.c1.weight, source.c1.weight) and not torch.equal(model.f6.weight, source.f6.weight)
    assert freeze_nodes(model, ["c1"]) == ["c1.weight", "c1.bias"] and not model.c1.weight.requires_grad


def test_fit_freezes_and_refuses_unknown_nodes_and_weights_that_fit_nothing(tiny_cnn: dict) -> None:
    x, y = torch.randn(40, 1, 8, 8), torch.randint(0, 10, (40,))
    data = TrainData(train=[(x, y)], val=[(x, y)], test=None, classes=10, steps_per_epoch=1)
    model = compile_graph(tiny_cnn)
    fit(model, data, _config(epochs=1), device=CPU, freeze=["conv"])
    conv_after_reset = model.conv.weight.detach().clone()
    fit(model, data, _config(epochs=2, freeze=["conv"]), device=CPU)
    assert torch.equal(model.conv.weight, conv_after_reset)  # the same seed's reset, then untouched
    with pytest.raises(TrainingError) as error:
        fit(compile_graph(tiny_cnn), data, _config(epochs=1), device=CPU, freeze=["nope"])
    assert error.value.code == "freeze"
    with pytest.raises(TrainingError) as error:
        fit(compile_graph(tiny_cnn), data, _config(epochs=1), device=CPU, init_weights={"x": torch.zeros(1)})
    assert error.value.code == "init_weights"


def test_tampered_weights_file_is_refused(tiny_cnn: dict, tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in compile_graph(tiny_cnn).state_dict().items()}, str(path))
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    data = TrainData(train=[(x, y)], val=[(x, y)], test=None, classes=10, steps_per_epoch=1)
    config = _config(epochs=1, init_weights={"fork": 1, "path": str(path), "sha256": "0" * 64})
    with pytest.raises(TrainingError, match="SHA-256"):
        fit(compile_graph(tiny_cnn), data, config, device=CPU)


def test_fine_tuning_lowers_the_default_learning_rate() -> None:
    assert parse_config({"init_weights": {"fork": 1}}).optimizer.lr == FINETUNE_LR
    assert parse_config({"init_weights": {"fork": 1}, "optimizer": {"lr": 0.01}}).optimizer.lr == 0.01
    assert parse_config({}).optimizer.lr == 1e-3
