"""What a training run works with, and the setup step that builds it.

``prepare`` turns a model and a run config into a ``Session``: seeded, re-initialised weights, a
fine-tune's starting weights and frozen nodes, the device, the precision policy, the
DistributedDataParallel wrapper, the optimizer, the learning-rate schedule and the loss. Its order
is part of the contract: whatever draws from the global RNG does so in the same order every time,
so a seeded run reproduces exactly.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from pipelines.datasets.targets import TargetTransform

from . import ddp_batchnorm, ddp_wrap, metrics, output_bias
from .config import RunConfig
from .finetune import WeightsError, WeightsSource, freeze_nodes, load_initial_weights
from .layer_stats import LayerStats
from .optim import build_loss, build_optimizer, build_schedule
from .precision import PrecisionPolicy

Emit = Callable[[dict[str, Any]], None]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class TrainingError(Exception):
    """A run that cannot go on; ``code`` is a stable snake_case reason (``nonfinite_loss``,
    ``init_weights``, ``freeze``, ``distributed_failed``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class TrainData:
    train: Batches
    val: Batches
    test: Batches | None
    classes: int
    steps_per_epoch: int
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    # Called at each epoch's start: reseeds every random stream of the data (order, augmentation)
    # from the epoch, so a run resumed from a checkpoint draws what an uninterrupted one draws.
    set_epoch: Callable[[int], None] | None = None
    # Regression: the network learns ``target.forward(y)``; losses and metrics are reported after
    # ``target.inverse``, in the data's units.
    target: TargetTransform | None = None
    # Regression: the training split's mean target per column in the units the network learns
    # (after ``target.forward``), for ``output_bias``; None: computed from ``train`` when that is an
    # in-memory list of batches.
    target_mean: list[float] | None = None


@dataclass
class Session:
    """The objects one run trains with, built once by ``prepare``. ``model`` is what is called (the
    DDP wrapper in a data-parallel run), ``inner`` the plain module under it: its weights are
    checkpointed and its layers watched. ``monitor`` is the metric that picks the best epoch."""

    config: RunConfig
    data: TrainData
    device: torch.device
    model: nn.Module
    inner: nn.Module
    policy: PrecisionPolicy
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    loss_fn: Loss
    monitor: str
    higher_is_better: bool
    stats: LayerStats
    emit: Emit
    rank: int
    world: int
    ddp: bool
    overlap: bool  # DDP all-reduces buckets during backward; False: one bucket, after it


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def monitored_metric(config: RunConfig) -> str:
    """The metric early stopping and the best checkpoint follow: the configured one, else the task's."""
    if config.early_stopping.enabled:
        return config.early_stopping.metric
    return {"classification": "accuracy", "regression": "rmse", "segmentation": "dice"}[config.task]


def prepare(model: nn.Module, data: TrainData, config: RunConfig, *, device: torch.device,
            layer_flops: dict[str, int] | None, emit: Emit, ddp: dict[str, Any] | None,
            init_weights: WeightsSource | None, freeze: list[str] | None) -> Session:
    """The setup step: seed, reset ``model``'s parameters, load the starting weights and freeze
    nodes (see ``fit``), move it to ``device`` and build what trains it. Returns the ``Session``;
    raises ``TrainingError`` (``init_weights``, ``freeze``) when the starting point does not fit."""
    rank = dist.get_rank() if ddp else 0
    seed_everything(config.seed)
    _reset_parameters(model)  # the same seed gives the same initial weights, in any process
    _start_output(model, config, data, emit)  # before any starting weights, which take precedence
    _start_from(model, config, init_weights, config.freeze if freeze is None else freeze, emit)
    model.to(device)
    if ddp and ddp_wrap.sync_batchnorm_on(model, config.distributed):
        model = ddp_batchnorm.convert(model, device)  # before the policy and statistics hooks see its layers
    policy = PrecisionPolicy(config.precision, device, model, layer_flops)
    called = model
    if ddp:
        called = ddp_wrap.wrap(model, device, config.distributed)
        emit({"type": "run.log", "level": "info", "message": ddp_wrap.summary(called, config.distributed)})
    optimizer = build_optimizer(model, config.optimizer)
    schedule = build_schedule(optimizer, config.schedule, config.optimizer.lr, config.epochs, data.steps_per_epoch)
    monitor = monitored_metric(config)
    return Session(config=config, data=data, device=device, model=called, inner=model, policy=policy,
                   optimizer=optimizer, schedule=schedule, loss_fn=build_loss(config.loss), monitor=monitor,
                   higher_is_better=metrics.HIGHER_IS_BETTER[monitor], stats=LayerStats(model), emit=emit,
                   rank=rank, world=dist.get_world_size() if ddp else 1, ddp=bool(ddp),
                   overlap=bool(ddp and config.distributed.overlap))


def _start_from(model: nn.Module, config: RunConfig, source: WeightsSource | None, freeze: list[str],
                emit: Emit) -> None:
    settings = config.init_weights
    if source is None and settings is not None and settings.path:
        source = settings.path
    try:
        if source is not None:
            found = load_initial_weights(model, source, sha256=settings.sha256 if settings and isinstance(
                source, str | Path) else "", drop=settings.drop if settings else ())
            if not found["loaded"]:
                raise TrainingError("init_weights", "none of the starting weights fit this model")
            emit({"type": "run.log", "level": "info",
                  "message": f"started from pretrained weights: {len(found['loaded'])} tensors loaded, "
                             f"{len(found['missing'])} initialised afresh"})
    except WeightsError as exc:
        raise TrainingError("init_weights", str(exc)) from exc
    if freeze:
        try:
            frozen = freeze_nodes(model, freeze)
        except WeightsError as exc:
            raise TrainingError("freeze", str(exc)) from exc
        emit({"type": "run.log", "level": "info",
              "message": f"frozen: {', '.join(freeze)} ({len(frozen)} parameter tensors)"})


def _start_output(model: nn.Module, config: RunConfig, data: TrainData, emit: Emit) -> None:
    """``config.output_bias`` (see ``output_bias``): raises ``TrainingError("output_bias")`` when
    ``target_mean`` was asked for and cannot apply; ``auto`` then logs why and goes on."""
    if not output_bias.wanted(config, target_scaled=data.target is not None):
        return
    forward = data.target.forward if data.target is not None else None
    mean = data.target_mean if data.target_mean is not None else output_bias.targets_mean(data.train, forward)
    try:
        if mean is None:
            raise output_bias.OutputBiasError("the training targets' mean is not known for this data")
        message = output_bias.start_at_mean(model, mean)
    except output_bias.OutputBiasError as exc:
        if config.output_bias == "target_mean":
            raise TrainingError("output_bias", str(exc)) from exc
        emit({"type": "run.log", "level": "warning", "message": f"output_bias auto: {exc}; the output layer "
              "keeps its own initialisation"})
        return
    emit({"type": "run.log", "level": "info", "message": message})


def _reset_parameters(model: nn.Module) -> None:
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset) and module is not model:
            reset()
