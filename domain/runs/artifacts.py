"""A run's checkpoints and trained weights through the storage layer (``domain.storage``).

In the local default they stay in the run's folder under ``TRAINING_RUNS_DIR``, which every
process shares, and nothing here does anything. With a shared object store the folder is the
worker's scratch: each checkpoint is published to the store after it is written
(``pipelines.training.checkpoint_store``: the object, then the pointer), a worker on any machine
installs the published one before it trains, and the final weights are uploaded for the
processes that deploy or publish them, which read them back through the content-hash cache.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from domain import storage
from domain.projects.services import DomainError
from domain.runs import finetune
from domain.runs.models import TrainingRun
from domain.runs.services import run_folder
from pipelines.training import checkpoint, checkpoint_store
from pipelines.training.config import RunConfig
from pipelines.training.engine import TrainingError

log = logging.getLogger(__name__)
AREA = "runs"
Emit = Callable[[dict[str, Any]], None]


def checkpoint_prefix(run: TrainingRun) -> str:
    """Where the run's checkpoints and their pointer live in the store."""
    return storage.object_name(AREA, f"{run_folder(run).name}/checkpoints")


def has_checkpoint(run: TrainingRun) -> bool:
    """Whether the run left a checkpoint to resume from (locally, or published to the store)."""
    if checkpoint.latest(run_folder(run) / "checkpoints") is not None:
        return True
    return storage.is_shared_store() and checkpoint_store.read_pointer(storage.store(), checkpoint_prefix(run)) is not None


def restore_checkpoint(run: TrainingRun, folder: Path) -> int | None:
    """With a shared store: install the run's published checkpoint into ``folder`` (its local
    checkpoint folder) unless the folder holds one as recent already. Returns the epoch installed,
    or None when nothing was (the local default, nothing published, or nothing newer)."""
    if not storage.is_shared_store():
        return None
    pointer = checkpoint_store.read_pointer(storage.store(), checkpoint_prefix(run))
    if pointer is None or _local_epoch(folder) >= int(pointer["checkpoint"]["epoch"]):
        return None
    return checkpoint_store.restore(storage.store(), checkpoint_prefix(run), folder, storage.fetch)


def _local_epoch(folder: Path) -> int:
    if checkpoint.latest(folder) is None:
        return -1
    return int(json.loads((folder / checkpoint.LATEST).read_text())["epoch"])


def publishing(run: TrainingRun, folder: Path, emit: Emit) -> Emit:
    """``emit``, publishing the checkpoint in ``folder`` to the shared store at the end of each epoch
    first (the engine sends ``run.epoch`` once the epoch's checkpoint is written). In the local
    default, ``emit`` itself. A failed publish is logged and reported as a warning: the store keeps
    the previous checkpoint, and training goes on."""
    if not storage.is_shared_store():
        return emit
    prefix = checkpoint_prefix(run)

    def forward(event: dict[str, Any]) -> None:
        if event.get("type") == "run.epoch":
            try:
                checkpoint_store.publish(folder, storage.store(), prefix)
            except Exception as exc:  # noqa: BLE001  (the previous checkpoint stays published)
                log.exception("could not publish run %s's checkpoint", run.pk)
                emit({"type": "run.log", "level": "warning",
                      "message": f"the checkpoint of epoch {event.get('epoch')} could not be published to the "
                                 f"store ({type(exc).__name__}: {exc}); a resume would start from an earlier one"})
        emit(event)

    return forward


def local_init_weights(run: TrainingRun, config: RunConfig) -> RunConfig:
    """``config`` with a fine-tuning run's starting weights as a file on this machine. With a
    shared store the path the web process resolved is a file of its own: the source (a model, a
    market version, a fork) is resolved again here, through the store, and must give the same
    SHA-256 (``TrainingError`` ``init_weights`` otherwise). Unchanged in the local default."""
    init = config.init_weights
    if init is None or not init.path or Path(init.path).is_file() or not storage.is_shared_store():
        return config
    try:
        local = finetune.resolve_init_weights(run.created_by, run.project, init)
    except DomainError as exc:
        raise TrainingError("init_weights", f"the starting weights cannot be read here: {exc.message}") from exc
    if init.sha256 and local.sha256 != init.sha256:
        raise TrainingError("init_weights", "the starting weights changed since the run was queued "
                            f"(SHA-256 {local.sha256}, not {init.sha256})")
    return config.model_copy(update={"init_weights": local})


def weights_relative(weights: Path) -> str:
    """The trained weights' path as a run artifact records it: relative to ``TRAINING_RUNS_DIR``."""
    return weights.relative_to(Path(settings.TRAINING_RUNS_DIR)).as_posix()


def store_weights(weights: Path) -> str:
    """Make the run's trained weights (a file in its folder) readable by every process: uploaded
    to the shared store, or left where they are in the local default. Returns the relative path."""
    relative = weights_relative(weights)
    storage.put(AREA, relative, weights)
    return relative


def weights_file(relative: str, sha256: str) -> Path:
    """The trained weights a run artifact records (``weights_path``, ``weights_sha256``) as a local file."""
    return storage.local_file(AREA, relative, sha256)
