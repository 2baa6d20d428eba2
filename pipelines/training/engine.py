"""The training loop: ``fit`` trains a model on prepared loaders and reports through callbacks.

It is written to cost no more than a hand-written loop: the loss stays on the device between
reports, statistics hooks are attached only on reporting steps, and validation runs once per
epoch. Every epoch ends with an atomic checkpoint; ``fit`` resumes from the latest one it finds.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from . import checkpoint, metrics
from .config import RunConfig
from .devices import synchronize
from .finetune import WeightsError, WeightsSource, freeze_nodes, load_initial_weights
from .optim import build_loss, build_optimizer, build_schedule
from .precision import PrecisionPolicy, count_saved_bytes

Emit = Callable[[dict[str, Any]], None]
MAX_NONFINITE_STEPS = 20


class TrainingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class TrainData:
    train: Iterable[tuple[torch.Tensor, torch.Tensor]]
    val: Iterable[tuple[torch.Tensor, torch.Tensor]]
    test: Iterable[tuple[torch.Tensor, torch.Tensor]] | None
    classes: int
    steps_per_epoch: int
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    set_epoch: Callable[[int], None] | None = None


@dataclass
class FitResult:
    status: str  # succeeded / cancelled
    epochs_run: int
    history: list[dict[str, Any]]
    best: dict[str, Any]
    test_metrics: dict[str, Any]
    precision: dict[str, Any]
    saved_bytes: int
    checkpoint_dir: Path | None
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def monitored_metric(config: RunConfig) -> str:
    if config.early_stopping.enabled:
        return config.early_stopping.metric
    return {"classification": "accuracy", "regression": "rmse", "segmentation": "dice"}[config.task]


class _Stats:
    """Per-layer activation and gradient statistics, collected on reporting steps only. The
    figures stay on the device until one ``tolist`` per report: a ``.item()`` per layer would
    stall an accelerator once per layer."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.activations: dict[str, torch.Tensor] = {}
        self.handles: list[Any] = []

    def attach(self) -> None:
        for name, module in self.model.named_children():
            self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                o = out.detach().float()
                std = o.std() if o.numel() > 1 else torch.zeros((), device=o.device)
                self.activations[name] = torch.stack((o.mean(), std, o.abs().max()))
        return hook

    def detach(self) -> dict[str, dict[str, float]]:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        found, self.activations = self.activations, {}
        if not found:
            return {}
        rows = torch.stack(list(found.values())).tolist()
        return {name: {"mean": row[0], "std": row[1], "absmax": row[2]} for name, row in zip(found, rows, strict=True)}

    def gradients(self) -> dict[str, float]:
        names, norms = [], []
        for name, module in self.model.named_children():
            grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
            if grads:
                names.append(name)
                norms.append(torch.linalg.vector_norm(torch.stack(grads)))
        return dict(zip(names, torch.stack(norms).tolist(), strict=True)) if norms else {}


def first_nonfinite_layer(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
    """Run a forward pass and name the first layer (in graph order) whose output is NaN or Inf."""
    order: list[str] = []
    bad: set[str] = set()
    handles = []
    for name, module in model.named_children():
        def hook(_m: nn.Module, _a: Any, out: Any, _name: str = name) -> None:
            order.append(_name)
            if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
                bad.add(_name)
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return next((name for name in order if name in bad), None)


def fit(model: nn.Module, data: TrainData, config: RunConfig, *, device: torch.device,
        checkpoint_dir: Path | None = None, layer_flops: dict[str, int] | None = None,
        emit: Emit | None = None, should_cancel: Callable[[], bool] | None = None,
        resume_from: Path | None = None, ddp: dict[str, Any] | None = None,
        init_weights: WeightsSource | None = None, freeze: list[str] | None = None) -> FitResult:
    """Train ``model`` (inputs: one tensor) for ``config.epochs``; see ``FitResult``.

    ``emit`` receives JSON events (``run.progress``, ``run.epoch``, ``run.nonfinite``, ``run.log``);
    ``should_cancel`` is polled between steps; ``resume_from`` is a checkpoint root (default:
    ``checkpoint_dir``) whose latest checkpoint is loaded first. ``ddp`` (``{"overlap": bool}``)
    wraps the model in DistributedDataParallel on an initialised process group.
    ``init_weights`` (a safetensors path or a tensor dict; default: ``config.init_weights.path``)
    is loaded non-strictly after the parameter reset: tensors whose name or shape do not fit are
    left as initialised. ``freeze`` (default: ``config.freeze``) names nodes whose parameters are
    not trained and not given to the optimizer.
    """
    emit = emit or (lambda _event: None)
    should_cancel = should_cancel or (lambda: False)
    rank = dist.get_rank() if ddp else 0
    seed_everything(config.seed)
    _reset_parameters(model)  # the same seed gives the same initial weights, in any process
    _start_from(model, config, init_weights, config.freeze if freeze is None else freeze, emit)
    model.to(device)
    inner = model
    policy = PrecisionPolicy(config.precision, device, inner, layer_flops)
    if ddp:
        model = nn.parallel.DistributedDataParallel(
            inner, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = build_optimizer(inner, config.optimizer)
    schedule = build_schedule(optimizer, config.schedule, config.optimizer.lr, config.epochs, data.steps_per_epoch)
    loss_fn = build_loss(config.loss)
    monitor = monitored_metric(config)
    higher = metrics.HIGHER_IS_BETTER[monitor]
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {}
    start_epoch, step, stale = 0, 0, 0
    saved_bytes = 0

    root = resume_from or checkpoint_dir
    source = checkpoint.latest(root) if root is not None else None
    if source is not None:
        found = checkpoint.load(source)
        inner.load_state_dict(found.weights)
        rng = {k.removeprefix("rng."): v for k, v in found.optimizer_tensors.items() if k.startswith("rng.")}
        optim_tensors = {k: v for k, v in found.optimizer_tensors.items() if not k.startswith("rng.")}
        checkpoint.load_optimizer_state(optimizer, optim_tensors, found.state["optimizer"])
        schedule.load_state_dict(found.state["schedule"])
        policy.load_state(found.state["precision"])
        checkpoint.restore_rng(rng, found.state["rng"])
        start_epoch, step = found.state["epoch"] + 1, found.state["step"]
        history, best, stale = found.state["history"], found.state["best"], found.state["stale"]
        saved_bytes = found.state.get("saved_bytes", 0)
        emit({"type": "run.log", "level": "info",
              "message": f"resumed from {source.name} (epoch {start_epoch} of {config.epochs})"})

    stats = _Stats(inner)
    measured_for: set[str] | None = None  # the fp32 layers when saved_bytes was last measured
    nonfinite_streak = 0
    transform = data.transform
    overlap = bool(ddp and ddp.get("overlap", True))
    world = dist.get_world_size() if ddp else 1
    status = "succeeded"
    stopped_early = False
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs):
        if data.set_epoch is not None:
            data.set_epoch(epoch)
        model.train()
        started = time.perf_counter()
        running = torch.zeros((), device=device)
        seen = 0
        for batch_index, (x, y) in enumerate(data.train):
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if transform is not None:
                x = transform(x)
            step += 1
            policy.maybe_probe(inner, (x,), step)
            reporting = step % config.stats_every == 0
            if reporting:
                stats.attach()
            # Saved bytes change only with the precision decisions: measured on the first step, then
            # at an epoch's start when a layer moved (saved-tensor hooks slow the step they watch).
            remeasure = batch_index == 0 and measured_for != policy.fp32_layers
            measure = count_saved_bytes(inner) if remeasure else nullcontext({"bytes": 0})
            with measure as saved, policy.autocast():
                out = model(x)
                loss = loss_fn(out, y)
            if remeasure:
                saved_bytes, measured_for = int(saved["bytes"]), set(policy.fp32_layers)
            activations = stats.detach() if reporting else None
            optimizer.zero_grad(set_to_none=True)
            # Checked on reporting steps only: .item() every step would stall an accelerator.
            if reporting and not torch.isfinite(loss).item():
                nonfinite_streak += 1
                emit({"type": "run.nonfinite", "step": step, "layer": first_nonfinite_layer(inner, (x,))})
                if nonfinite_streak >= MAX_NONFINITE_STEPS:
                    raise TrainingError("nonfinite_loss", f"the loss was NaN or Inf for {nonfinite_streak} steps")
                continue
            nonfinite_streak = 0
            sync_after = (lambda: _all_reduce_gradients(inner, world)) if ddp and not overlap else None
            with model.no_sync() if ddp and not overlap else nullcontext():  # type: ignore[operator]
                policy.backward_and_step(loss, optimizer, step, before_step=sync_after)
            schedule.step()
            running += loss.detach()
            seen += len(y)
            if reporting and rank == 0:
                elapsed = time.perf_counter() - started
                done = batch_index + 1
                remaining = (config.epochs - epoch) * data.steps_per_epoch - done
                emit({"type": "run.progress", "epoch": epoch, "step": step, "loss": loss.item(),
                      "lr": schedule.get_last_lr()[0], "samples_per_s": seen * world / max(elapsed, 1e-9),
                      "eta_s": remaining * elapsed / done, "activations": activations,
                      "gradients": stats.gradients(), "precision": policy.layer_map()})
            if should_cancel():
                status = "cancelled"
                break
        if status == "cancelled":
            break
        synchronize(device)
        train_seconds = time.perf_counter() - started
        val = evaluate(model, data.val, data.classes, config.task, loss_fn, device, policy, transform)
        record = {"epoch": epoch, "step": step, "train_loss": (running / max(1, data.steps_per_epoch)).item(),
                  "train_seconds": train_seconds, "samples_per_s": seen * world / max(train_seconds, 1e-9),
                  "lr": schedule.get_last_lr()[0], "val": val, "saved_bytes": saved_bytes,
                  "low_precision_flops_share": policy.low_flops_share()}
        history.append({k: v for k, v in record.items() if k != "val"} | {"val": _without_matrix(val)})
        improved = _improved(val.get(monitor), best.get(monitor), higher, config.early_stopping.min_delta)
        if improved:
            best = {"epoch": epoch, **_without_matrix(val)}
            stale = 0
        else:
            stale += 1
        if checkpoint_dir is not None and rank == 0:
            _save(checkpoint_dir, inner, optimizer, schedule, policy, epoch, step, history, best, stale,
                  saved_bytes, improved)
        if ddp:
            dist.barrier()  # every rank sees the new checkpoint before anyone reads "best"
        emit({"type": "run.epoch", **record, "precision": policy.summary(), "best": best})
        if config.early_stopping.enabled and stale >= config.early_stopping.patience:
            stopped_early = True
            emit({"type": "run.log", "level": "info", "message": f"early stop: no {monitor} gain for {stale} epochs"})
            break
    test_metrics: dict[str, Any] = {}
    if status == "succeeded" and data.test is not None:
        if checkpoint_dir is not None and (checkpoint_dir / checkpoint.BEST).is_dir():
            inner.load_state_dict(checkpoint.load(checkpoint_dir / checkpoint.BEST).weights)
        test_metrics = evaluate(model, data.test, data.classes, config.task, loss_fn, device, policy, transform)
    return FitResult(status, epoch + 1, history, best, test_metrics, policy.summary(), saved_bytes,
                     checkpoint_dir, stopped_early)


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


def _reset_parameters(model: nn.Module) -> None:
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset) and module is not model:
            reset()


def _all_reduce_gradients(model: nn.Module, world: int) -> None:
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)


def _improved(value: Any, best: Any, higher: bool, min_delta: float) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value > best + min_delta if higher else value < best - min_delta


def _without_matrix(values: dict[str, Any]) -> dict[str, Any]:
    return metrics.scalars(values)  # no confusion matrix or ROC curve in the history and "best"


def _save(root: Path, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any, policy: PrecisionPolicy,
          epoch: int, step: int, history: list[dict[str, Any]], best: dict[str, Any], stale: int,
          saved_bytes: int, improved: bool) -> None:
    optim_tensors, optim_meta = checkpoint.optimizer_state(optimizer)
    rng_tensors, rng_meta = checkpoint.rng_state()
    optim_tensors.update({f"rng.{k}": v for k, v in rng_tensors.items()})
    state = {"epoch": epoch, "step": step, "history": history, "best": best, "stale": stale,
             "saved_bytes": saved_bytes, "optimizer": optim_meta, "schedule": schedule.state_dict(),
             "precision": policy.state(), "rng": rng_meta}
    checkpoint.save(root, epoch, checkpoint.model_weights(model), optim_tensors, state, best=improved)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], classes: int, task: str,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], device: torch.device,
             policy: PrecisionPolicy | None = None,
             transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, Any]:
    """Loss and the task's metrics over a whole split (in the run's precision)."""
    was_training = model.training
    model.eval()
    outputs, targets, total, count = [], [], 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if transform is not None:
            x = transform(x)
        with policy.autocast() if policy is not None else nullcontext():
            out = model(x)
            loss = loss_fn(out, y)
        total += loss.float().item() * len(y)
        count += len(y)
        outputs.append(out.float().cpu())
        targets.append(y.cpu())
    model.train(was_training)
    if count == 0:
        return {"loss": None}
    result = metrics.compute(task, torch.cat(outputs), torch.cat(targets), classes)
    return {"loss": total / count, **result}
