"""The checkpoint step: where a run stands (``RunState``), saved at every epoch's end and restored,
with the optimizer, the schedule, the precision decisions and the RNG states, when a run resumes.

A resumed run continues bit for bit: the global RNGs (torch CPU and CUDA: dropout, stochastic
depth; Python; NumPy) are saved, and the data's own streams (shuffle, augmentation) are reseeded
from the epoch by ``TrainData.set_epoch``, so the saved epoch fixes them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import checkpoint, ddp_wrap
from .session import Session

RNG_PREFIX = "rng."  # the RNG states travel with the optimizer's tensors, under this prefix
POWERSGD_PREFIX = "powersgd."  # each rank's PowerSGD state likewise: "powersgd.<rank>.error_dict.<bucket>"


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
    optim_tensors = {k: v for k, v in found.optimizer_tensors.items()
                     if not k.startswith((RNG_PREFIX, POWERSGD_PREFIX))}
    checkpoint.load_optimizer_state(session.optimizer, optim_tensors, found.state["optimizer"])
    session.schedule.load_state_dict(found.state["schedule"])
    session.policy.load_state(found.state["precision"])
    checkpoint.restore_rng(rng, found.state["rng"])
    _restore_powersgd(session, found)
    saved = found.state
    state = RunState(next_epoch=saved["epoch"] + 1, step=saved["step"], history=saved["history"],
                     best=saved["best"], stale=saved["stale"], saved_bytes=saved.get("saved_bytes", 0))
    session.emit({"type": "run.log", "level": "info",
                  "message": f"resumed from {source.name} (epoch {state.next_epoch} of {session.config.epochs})"})
    return state


def _restore_powersgd(session: Session, found: checkpoint.Checkpoint) -> None:
    """Give this rank its PowerSGD state back, when the run uses PowerSGD; a checkpoint without it
    (another compression before) or from another number of ranks starts the state afresh, saying so."""
    if ddp_wrap.powersgd_state(session.model) is None:
        return
    saved = found.state.get("powersgd")
    if not saved or saved["world"] != session.world:
        why = "it has none" if not saved else f"it was written by {saved['world']} ranks, not {session.world}"
        session.emit({"type": "run.log", "level": "warning",
                      "message": f"PowerSGD's error feedback starts afresh: the checkpoint cannot restore it ({why})"})
        return
    prefix = f"{POWERSGD_PREFIX}{session.rank}."
    tensors = {k.removeprefix(prefix): v for k, v in found.optimizer_tensors.items() if k.startswith(prefix)}
    ddp_wrap.restore_powersgd(session.model, {"tensors": tensors, "meta": saved["ranks"][session.rank]},
                              session.device)


def save_state(session: Session, state: RunState, root: Path, epoch: int, improved: bool,
               powersgd: list[dict[str, Any]] | None = None) -> None:
    """Write the checkpoint of ``epoch`` under ``root`` (see ``checkpoint.save``): the model's
    weights, the optimizer's tensors with the RNG states (and every rank's PowerSGD state, when
    ``powersgd`` carries it: ``ddp_wrap.gather_powersgd``), and the rest as JSON; when ``improved``
    it is also copied as the best."""
    optim_tensors, optim_meta = checkpoint.optimizer_state(session.optimizer)
    rng_tensors, rng_meta = checkpoint.rng_state()
    optim_tensors.update({f"{RNG_PREFIX}{k}": v for k, v in rng_tensors.items()})
    for rank, part in enumerate(powersgd or []):
        optim_tensors.update({f"{POWERSGD_PREFIX}{rank}.{k}": v for k, v in part["tensors"].items()})
    saved = {"epoch": epoch, "step": state.step, "history": state.history, "best": state.best, "stale": state.stale,
             "saved_bytes": state.saved_bytes, "optimizer": optim_meta, "schedule": session.schedule.state_dict(),
             "precision": session.policy.state(), "rng": rng_meta}
    if powersgd is not None:
        saved["powersgd"] = {"world": len(powersgd), "ranks": [part["meta"] for part in powersgd]}
    checkpoint.save(root, epoch, checkpoint.model_weights(session.inner), optim_tensors, saved, best=improved)
