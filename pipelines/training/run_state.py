"""The checkpoint step: where a run stands (``RunState``), saved at every epoch's end and restored,
with the optimizer, the schedule, the precision decisions and the RNG states, when a run resumes.

A resumed run continues bit for bit: the global RNGs (torch CPU and CUDA: dropout, stochastic
depth; Python; NumPy) are saved, and the data's own streams (shuffle, augmentation) are reseeded
from the epoch by ``TrainData.set_epoch``, so the saved epoch fixes them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import checkpoint
from .session import Session

RNG_PREFIX = "rng."  # the RNG states travel with the optimizer's tensors, under this prefix


@dataclass
class RunState:
    """Where a run stands: the epoch to train next, the global step, one history record per epoch,
    the best epoch's record, the epochs since it improved (``stale``) and the activation bytes
    saved for backward. ``measured_for`` (the fp32 layers when ``saved_bytes`` was measured) and the
    streak of non-finite losses are not checkpointed: a resumed run measures and counts afresh."""

    next_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    stale: int = 0
    saved_bytes: int = 0
    measured_for: set[str] | None = None
    peak_bytes: int | None = None  # see memory.py; measured afresh after a resume
    peak_for: set[str] | None = None
    nonfinite_streak: int = 0


def restore_state(session: Session, root: Path | None) -> RunState:
    """Load the latest checkpoint under ``root``, if there is one, into the session (weights,
    optimizer, schedule, precision policy) and the global RNGs, and say so in a ``run.log`` event.
    Returns the checkpoint's ``RunState``, or a fresh one."""
    source = checkpoint.latest(root) if root is not None else None
    if source is None:
        return RunState()
    found = checkpoint.load(source)
    session.inner.load_state_dict(found.weights)
    rng = {k.removeprefix(RNG_PREFIX): v for k, v in found.optimizer_tensors.items() if k.startswith(RNG_PREFIX)}
    optim_tensors = {k: v for k, v in found.optimizer_tensors.items() if not k.startswith(RNG_PREFIX)}
    checkpoint.load_optimizer_state(session.optimizer, optim_tensors, found.state["optimizer"])
    session.schedule.load_state_dict(found.state["schedule"])
    session.policy.load_state(found.state["precision"])
    checkpoint.restore_rng(rng, found.state["rng"])
    saved = found.state
    state = RunState(next_epoch=saved["epoch"] + 1, step=saved["step"], history=saved["history"],
                     best=saved["best"], stale=saved["stale"], saved_bytes=saved.get("saved_bytes", 0))
    session.emit({"type": "run.log", "level": "info",
                  "message": f"resumed from {source.name} (epoch {state.next_epoch} of {session.config.epochs})"})
    return state


def save_state(session: Session, state: RunState, root: Path, epoch: int, improved: bool) -> None:
    """Write the checkpoint of ``epoch`` under ``root`` (see ``checkpoint.save``): the model's
    weights, the optimizer's tensors with the RNG states, and the rest as JSON; when ``improved``
    it is also copied as the best."""
    optim_tensors, optim_meta = checkpoint.optimizer_state(session.optimizer)
    rng_tensors, rng_meta = checkpoint.rng_state()
    optim_tensors.update({f"{RNG_PREFIX}{k}": v for k, v in rng_tensors.items()})
    saved = {"epoch": epoch, "step": state.step, "history": state.history, "best": state.best, "stale": state.stale,
             "saved_bytes": state.saved_bytes, "optimizer": optim_meta, "schedule": session.schedule.state_dict(),
             "precision": session.policy.state(), "rng": rng_meta}
    checkpoint.save(root, epoch, checkpoint.model_weights(session.inner), optim_tensors, saved, best=improved)
