"""The steps ``fit`` repeats: one training epoch, and the end of an epoch.

``train_epoch`` runs an epoch's optimizer steps: forward and loss in the run's precision, the
non-finite check, backward and the optimizer and schedule steps, and a ``run.progress`` report
every ``stats_every`` steps. ``finish_epoch`` validates, records the epoch, keeps the best,
checkpoints, sends ``run.epoch`` and decides on early stopping. ``evaluate`` scores a whole split.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from pipelines.datasets.targets import TargetTransform

from . import ddp_wrap, metrics
from .devices import synchronize
from .layer_stats import first_nonfinite_layer
from .memory import GRADS_FREED, grad_bytes, live_bytes, measure_peak, method_for
from .precision import PrecisionPolicy, count_saved_bytes
from .run_state import RunState, save_state
from .session import Batches, Loss, Session, TrainingError

MAX_NONFINITE_STEPS = 20


@dataclass
class EpochTally:
    """One epoch's running figures: when it started, the summed loss (kept on the device), the
    samples seen, and the seconds its training took (set when it ends)."""

    started: float
    running: torch.Tensor
    seen: int = 0
    seconds: float = 0.0


def train_epoch(session: Session, state: RunState, epoch: int, should_cancel: Callable[[], bool]) -> EpochTally | None:
    """Train ``epoch``: one optimizer step per batch of the train split, advancing ``state``.
    ``should_cancel`` is polled after every step taken (not after one skipped for a non-finite
    loss). Returns the epoch's tally, or None when cancelled."""
    data = session.data
    if data.set_epoch is not None:
        data.set_epoch(epoch)
    session.model.train()
    tally = EpochTally(started=time.perf_counter(), running=torch.zeros((), device=session.device))
    cuda = session.device.type == "cuda"
    if cuda:  # the allocator's own peak over the epoch's steps (validation excluded)
        torch.cuda.reset_peak_memory_stats(session.device)
    for batch_index, (x, y) in enumerate(data.train):
        if _train_step(session, state, tally, epoch, batch_index, x, y) and should_cancel():
            return None
    synchronize(session.device)
    if cuda:
        state.peak_bytes = int(torch.cuda.max_memory_allocated(session.device))
    tally.seconds = time.perf_counter() - tally.started
    return tally


def _train_step(session: Session, state: RunState, tally: EpochTally, epoch: int, batch_index: int,
                x: torch.Tensor, y: torch.Tensor) -> bool:
    """One step on the batch ``(x, y)``; on reporting steps it also sends ``run.progress`` (rank 0).
    Returns False when the step was skipped for a non-finite loss."""
    x = x.to(session.device, non_blocking=True)
    y = y.to(session.device, non_blocking=True)
    if session.data.transform is not None:
        x = session.data.transform(x)
    state.step += 1
    session.policy.maybe_probe(session.inner, (x,), state.step)
    reporting = state.step % session.config.stats_every == 0
    # On a CPU the peak is measured by profiling one step (the second of an epoch, when gradients
    # and optimizer state exist) whenever the precision decisions changed since the last one.
    profiled = (session.device.type == "cpu" and state.peak_for != session.policy.fp32_layers
                and batch_index == min(1, session.data.steps_per_epoch - 1))
    peak: AbstractContextManager[dict[str, Any]] = (
        measure_peak(session.device, live_bytes(session.inner, session.optimizer, (x, y)), grad_bytes(session.inner))
        if profiled else nullcontext({}))
    with peak as measured:
        loss, shown, activations = _forward(session, state, x, y, first_batch=batch_index == 0,
                                            reporting=reporting)
        with torch.profiler.record_function(GRADS_FREED) if profiled else nullcontext():
            session.optimizer.zero_grad(set_to_none=True)
        # Checked on reporting steps only: .item() every step would stall an accelerator.
        if reporting and _skip_nonfinite(session, state, loss, x):
            return False
        state.nonfinite_streak = 0
        _backward_and_step(session, state, loss)
    if profiled:
        state.peak_bytes, state.peak_for = measured["peak_bytes"], set(session.policy.fp32_layers)
    tally.running += shown
    tally.seen += len(y)
    if reporting and session.rank == 0:
        _report_progress(session, state, tally, epoch, batch_index, shown, activations)
    return True


def _forward(session: Session, state: RunState, x: torch.Tensor, y: torch.Tensor, *, first_batch: bool,
             reporting: bool) -> tuple[torch.Tensor, torch.Tensor, dict[str, dict[str, float]] | None]:
    """Forward pass and loss in the run's precision. Returns the loss to step on, the loss to report
    (detached; in the data's units when the target is scaled) and, on reporting steps, the layers'
    activation statistics; measures the bytes saved for backward into ``state`` when due."""
    if reporting:
        session.stats.attach()
    # Saved bytes change only with the precision decisions: measured on the first step, then
    # at an epoch's start when a layer moved (saved-tensor hooks slow the step they watch).
    remeasure = first_batch and state.measured_for != session.policy.fp32_layers
    measure = count_saved_bytes(session.inner) if remeasure else nullcontext({"bytes": 0})
    target = session.data.target
    with measure as saved, session.policy.autocast():
        out = session.model(x)
        loss = session.loss_fn(out, y if target is None else target.forward(y))
    if remeasure:
        state.saved_bytes, state.measured_for = int(saved["bytes"]), set(session.policy.fp32_layers)
    shown = loss.detach() if target is None else _original_loss(session.loss_fn, target, out, y)
    return loss, shown, session.stats.detach() if reporting else None


@torch.no_grad()
def _original_loss(loss_fn: Loss, target: TargetTransform, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss of ``out`` mapped back to the data's units against the raw target ``y``."""
    return loss_fn(target.inverse(out.detach()), y)


def _skip_nonfinite(session: Session, state: RunState, loss: torch.Tensor, x: torch.Tensor) -> bool:
    """False when ``loss`` is finite. Otherwise sends ``run.nonfinite`` naming the first layer whose
    output is not finite and returns True, or raises ``TrainingError`` after too many in a row."""
    if torch.isfinite(loss).item():
        return False
    state.nonfinite_streak += 1
    session.emit({"type": "run.nonfinite", "step": state.step, "layer": first_nonfinite_layer(session.inner, (x,))})
    if state.nonfinite_streak >= MAX_NONFINITE_STEPS:
        raise TrainingError("nonfinite_loss", f"the loss was NaN or Inf for {state.nonfinite_streak} steps")
    return True


def _backward_and_step(session: Session, state: RunState, loss: torch.Tensor) -> None:
    """Backward (DDP all-reduces the gradients in it), the optimizer step through the precision
    policy (scaler), then the schedule step."""
    session.policy.backward_and_step(loss, session.optimizer, state.step)
    session.schedule.step()


def _report_progress(session: Session, state: RunState, tally: EpochTally, epoch: int, batch_index: int,
                     loss: torch.Tensor, activations: dict[str, dict[str, float]] | None) -> None:
    elapsed = time.perf_counter() - tally.started
    done = batch_index + 1
    remaining = (session.config.epochs - epoch) * session.data.steps_per_epoch - done
    session.emit({"type": "run.progress", "epoch": epoch, "step": state.step, "loss": loss.item(),
                  "lr": session.schedule.get_last_lr()[0],
                  "samples_per_s": tally.seen * session.world / max(elapsed, 1e-9),
                  "eta_s": remaining * elapsed / done, "activations": activations,
                  "gradients": session.stats.gradients(), "precision": session.policy.layer_map()})


def finish_epoch(session: Session, state: RunState, epoch: int, tally: EpochTally, checkpoint_dir: Path | None) -> bool:
    """The end of a trained epoch: validate, append to the history, keep the best, checkpoint
    (rank 0, when ``checkpoint_dir``) and send ``run.epoch``. Returns True when early stopping ends
    the run (after a ``run.log`` saying so)."""
    data = session.data
    val = evaluate(session.model, data.val, data.classes, session.config.task, session.loss_fn, session.device,
                   session.policy, data.transform, target=data.target)
    record = {"epoch": epoch, "step": state.step, "train_loss": (tally.running / max(1, data.steps_per_epoch)).item(),
              "train_seconds": tally.seconds, "samples_per_s": tally.seen * session.world / max(tally.seconds, 1e-9),
              "lr": session.schedule.get_last_lr()[0], "val": val,
              "peak_bytes": state.peak_bytes,
              "peak_bytes_method": method_for(session.device) if state.peak_bytes is not None else None,
              "saved_tensor_bytes": state.saved_bytes,
              "low_precision_flops_share": session.policy.low_flops_share()}
    # No confusion matrix or ROC curve in the history and "best": every checkpoint carries them.
    state.history.append({k: v for k, v in record.items() if k != "val"} | {"val": metrics.scalars(val)})
    improved = _keep_best(session, state, epoch, val)
    # PowerSGD's state differs per rank (its error feedback): every rank hands it over, rank 0 saves.
    powersgd = ddp_wrap.gather_powersgd(session.model) if checkpoint_dir is not None and session.ddp else None
    if checkpoint_dir is not None and session.rank == 0:
        save_state(session, state, checkpoint_dir, epoch, improved, powersgd=powersgd)
    if session.ddp:
        dist.barrier()  # every rank sees the new checkpoint before anyone reads "best"
    session.emit({"type": "run.epoch", **record, "precision": session.policy.summary(), "best": state.best})
    return _stops_early(session, state)


def _keep_best(session: Session, state: RunState, epoch: int, val: dict[str, Any]) -> bool:
    """Make ``epoch`` the best when its monitored metric improved, else count it stale; True if it did."""
    improved = _improved(val.get(session.monitor), state.best.get(session.monitor), session.higher_is_better,
                         session.config.early_stopping.min_delta)
    if improved:
        state.best = {"epoch": epoch, **metrics.scalars(val)}
        state.stale = 0
    else:
        state.stale += 1
    return improved


def _improved(value: Any, best: Any, higher: bool, min_delta: float) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value > best + min_delta if higher else value < best - min_delta


def _stops_early(session: Session, state: RunState) -> bool:
    stopping = session.config.early_stopping
    if not (stopping.enabled and state.stale >= stopping.patience):
        return False
    session.emit({"type": "run.log", "level": "info",
                  "message": f"early stop: no {session.monitor} gain for {state.stale} epochs"})
    return True


@torch.no_grad()
def evaluate(model: nn.Module, loader: Batches, classes: int, task: str, loss_fn: Loss, device: torch.device,
             policy: PrecisionPolicy | None = None,
             transform: Callable[[torch.Tensor], torch.Tensor] | None = None, *,
             target: TargetTransform | None = None, plots: bool = False) -> dict[str, Any]:
    """Loss and the task's metrics over a whole split (in the run's precision). With a ``target``
    transform the outputs go through its inverse first: loss and metrics are in the data's units.
    ``plots``: a regressor's scatter and residual histogram too (``metrics.regression_plots``)."""
    was_training = model.training
    model.eval()
    outputs, targets, total, count = [], [], 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if transform is not None:
            x = transform(x)
        with policy.autocast() if policy is not None else nullcontext():
            out = model(x)
        if target is not None:
            out = target.inverse(out)
        with policy.autocast() if policy is not None else nullcontext():
            loss = loss_fn(out, y)
        total += loss.float().item() * len(y)
        count += len(y)
        outputs.append(out.float().cpu())
        targets.append(y.cpu())
    model.train(was_training)
    if count == 0:
        return {"loss": None}
    result = metrics.compute(task, torch.cat(outputs), torch.cat(targets), classes, plots=plots)
    return {"loss": total / count, **result}
