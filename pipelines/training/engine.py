"""The training loop: ``fit`` trains a model on prepared loaders and reports through callbacks.

It is written to cost no more than a hand-written loop: the loss stays on the device between
reports, statistics hooks are attached only on reporting steps, and validation runs once per
epoch. Every epoch ends with an atomic checkpoint; ``fit`` resumes from the latest one it finds.

``fit`` runs named steps, each in its own module: the setup (``session.prepare``), the resume
(``run_state.restore_state``), then per epoch the training (``epoch.train_epoch``) and its end
(``epoch.finish_epoch``: validation, history, best, checkpoint, early stopping), and last the test.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint
from .config import RunConfig
from .epoch import MAX_NONFINITE_STEPS, evaluate, finish_epoch, train_epoch
from .finetune import WeightsSource
from .layer_stats import first_nonfinite_layer
from .run_state import restore_state
from .session import (
    Batches,
    Emit,
    Session,
    TrainData,
    TrainingError,
    monitored_metric,
    prepare,
    seed_everything,
)

__all__ = ["MAX_NONFINITE_STEPS", "Emit", "FitResult", "TrainData", "TrainingError", "evaluate",
           "first_nonfinite_layer", "fit", "monitored_metric", "seed_everything"]

# The fields a FitResult carries between processes (a data-parallel rank writes them as JSON).
RESULT_FIELDS = ("status", "epochs_run", "history", "best", "test_metrics", "precision", "saved_bytes",
                 "stopped_early")


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

    def to_json(self) -> dict[str, Any]:
        """``RESULT_FIELDS`` as a JSON-ready dict (not the checkpoint folder, not ``extra``)."""
        return {name: getattr(self, name) for name in RESULT_FIELDS}

    @classmethod
    def from_json(cls, values: dict[str, Any], checkpoint_dir: Path | None) -> FitResult:
        """The inverse of ``to_json``, with the checkpoint folder the reader knows."""
        return cls(checkpoint_dir=checkpoint_dir, **{name: values[name] for name in RESULT_FIELDS})


def fit(model: nn.Module, data: TrainData, config: RunConfig, *, device: torch.device,
        checkpoint_dir: Path | None = None, layer_flops: dict[str, int] | None = None,
        emit: Emit | None = None, should_cancel: Callable[[], bool] | None = None,
        resume_from: Path | None = None, ddp: dict[str, Any] | None = None,
        init_weights: WeightsSource | None = None, freeze: list[str] | None = None) -> FitResult:
    """Train ``model`` (inputs: one tensor) for ``config.epochs``; see ``FitResult``.

    ``emit`` receives JSON events (``run.progress``, ``run.epoch``, ``run.nonfinite``, ``run.log``);
    ``should_cancel`` is polled between steps; ``resume_from`` is a checkpoint root (default:
    ``checkpoint_dir``) whose latest checkpoint is loaded first. ``ddp`` (non-empty: ``{"world": n}``)
    wraps the model in DistributedDataParallel on an initialised process group, as
    ``config.distributed`` says (``ddp_wrap``: buckets, compression, synchronised batch norm).
    ``init_weights`` (a safetensors path or a tensor dict; default: ``config.init_weights.path``)
    is loaded non-strictly after the parameter reset: tensors whose name or shape do not fit are
    left as initialised. ``freeze`` (default: ``config.freeze``) names nodes whose parameters are
    not trained and not given to the optimizer.
    """
    should_cancel = should_cancel or (lambda: False)
    session = prepare(model, data, config, device=device, layer_flops=layer_flops,
                      emit=emit or (lambda _event: None), ddp=ddp, init_weights=init_weights, freeze=freeze)
    state = restore_state(session, resume_from or checkpoint_dir)
    status, stopped_early = "succeeded", False
    epoch = state.next_epoch - 1
    for epoch in range(state.next_epoch, config.epochs):
        tally = train_epoch(session, state, epoch, should_cancel)
        if tally is None:
            status = "cancelled"
            break
        if finish_epoch(session, state, epoch, tally, checkpoint_dir):
            stopped_early = True
            break
    test_metrics: dict[str, Any] = {}
    if status == "succeeded" and data.test is not None:
        test_metrics = _test(session, data.test, checkpoint_dir)
    return FitResult(status, epoch + 1, state.history, state.best, test_metrics, session.policy.summary(),
                     state.saved_bytes, checkpoint_dir, stopped_early)


def _test(session: Session, test: Batches, checkpoint_dir: Path | None) -> dict[str, Any]:
    """The test step: metrics over the test split with the best checkpoint's weights when one was
    saved, else with the last ones."""
    if checkpoint_dir is not None and (checkpoint_dir / checkpoint.BEST).is_dir():
        session.inner.load_state_dict(checkpoint.load(checkpoint_dir / checkpoint.BEST).weights)
    return evaluate(session.model, test, session.data.classes, session.config.task, session.loss_fn,
                    session.device, session.policy, session.data.transform, target=session.data.target, plots=True)
