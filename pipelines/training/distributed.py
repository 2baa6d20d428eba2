"""Data-parallel training: one process per device, started by torch's elastic launcher.

``launch`` runs torch's elastic agent (``torch.distributed.launcher.api.elastic_launch``, what
``torchrun`` runs) with a c10d rendezvous. The ranks are commands (``python -c <bootstrap>
spec.json``), not multiprocessing children: the Celery worker's pool processes are daemonic and
may not fork through multiprocessing. The agent runs in a thread, so it installs no signal
handlers in the worker, while this thread forwards rank 0's events (JSON lines in a file) and
turns a cancel into a file every rank sees at the same step (rank 0 decides and broadcasts).

Nothing is single-machine by construction: the agent assigns ``RANK``/``LOCAL_RANK``/
``WORLD_SIZE``, a rank shards the data by its global rank and takes the device of its local
rank, so a run over several machines is a ``Rendezvous`` (a shared endpoint, the node count), not
new code: each machine calls ``launch_node`` with it (``domain.runs.nodes`` forms the group of
Celery tasks and serves the endpoint). Backend: NCCL on CUDA, gloo elsewhere, or as the run config
says.

Failure is bounded: the process group and the rendezvous time out after ``distributed.timeout_s``
(a rank hung or lost makes the others' collectives fail), the agent stops every rank when one
exits with an error, and a rank whose launcher dies exits too. The run error names each failed
rank and why (its exception, or the signal that killed it).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from pipelines.datasets.targets import TargetTransform

from .config import RunConfig
from .engine import FitResult, TrainingError

ROOT = Path(__file__).resolve().parent.parent.parent
# The rank command: import this module from the repository whatever the worker's directory.
BOOTSTRAP = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pipelines.training.distributed import main; main()"
POLL_S = 0.2


@dataclass(frozen=True)
class Rendezvous:
    """Where the ranks meet. The default hosts a c10d rendezvous on a free local port for one
    machine; several machines each launch with the same ``endpoint`` (``host:port`` of a c10d
    store one of them serves: ``domain.runs.nodes``), ``run_id`` and ``nodes``. ``is_host``:
    whether this agent serves the store itself (None: torch decides by the endpoint's host name).
    ``local_addr``: the address the other nodes reach this one at (rank 0's node serves the
    process group's store there; None: this host's FQDN)."""

    endpoint: str = "127.0.0.1:0"
    nodes: int = 1
    run_id: str = ""
    is_host: bool | None = None
    local_addr: str | None = None


def launch(*, world: int, device_kind: str, document: dict[str, Any], config: RunConfig, cache: Path, classes: int,
           resize: tuple[int, ...] | None, augmentation: dict[str, Any] | None, checkpoint_dir: Path,
           resume_from: Path | None, layer_flops: dict[str, int], workdir: Path,
           emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool],
           device_indices: list[int] | None = None, rendezvous: Rendezvous | None = None,
           target: dict[str, Any] | None = None) -> FitResult:
    """Run ``world`` ranks on this machine to the end, local rank r on device ``device_indices[r]``
    (default: r); returns rank 0's result. Raises ``TrainingError`` when a rank fails: its code
    when the rank raised one, else ``distributed_failed``."""
    result = launch_node(world=world, device_kind=device_kind, document=document, config=config, cache=cache,
                         classes=classes, resize=resize, augmentation=augmentation, checkpoint_dir=checkpoint_dir,
                         resume_from=resume_from, layer_flops=layer_flops, workdir=workdir, emit=emit,
                         should_cancel=should_cancel, device_indices=device_indices, rendezvous=rendezvous,
                         target=target)
    if result is None:
        raise TrainingError("distributed_failed", "rank 0 ended without writing its result")
    return result


def launch_node(*, world: int, device_kind: str, document: dict[str, Any], config: RunConfig, cache: Path,
                classes: int, resize: tuple[int, ...] | None, augmentation: dict[str, Any] | None,
                checkpoint_dir: Path, resume_from: Path | None, layer_flops: dict[str, int], workdir: Path,
                emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool],
                device_indices: list[int] | None = None, rendezvous: Rendezvous | None = None,
                target: dict[str, Any] | None = None) -> FitResult | None:
    """``launch`` for one node of ``rendezvous.nodes``: this node's ``world`` ranks, whose global
    ranks the rendezvous assigns. Returns rank 0's result on the node that ran global rank 0 (it
    alone forwards events through ``emit`` and writes checkpoints), None on the others. Each node
    needs its own ``workdir``; ``checkpoint_dir`` is shared (rank 0 writes it, every rank resumes
    from it)."""
    rendezvous = rendezvous or Rendezvous()
    workdir.mkdir(parents=True, exist_ok=True)
    backend = config.distributed.backend or ("nccl" if device_kind == "cuda" else "gloo")
    files = {"cancel_file": workdir / "cancel", "result": workdir / "result.json", "events": workdir / "events.jsonl",
             "errors": workdir / "rank-errors"}
    spec = {"device_kind": device_kind, "backend": backend, "device_indices": list(device_indices or range(world)),
            "document": document, "config": config.model_dump(mode="json"), "cache": str(cache), "classes": classes,
            "resize": list(resize) if resize else None, "augmentation": augmentation,
            "checkpoint_dir": str(checkpoint_dir), "resume_from": str(resume_from) if resume_from else None,
            "layer_flops": layer_flops, "target": target, **{name: str(path) for name, path in files.items()}}
    for name in ("cancel_file", "result", "events"):
        files[name].unlink(missing_ok=True)
    for stale in files["errors"].glob("*.json"):
        stale.unlink()
    spec_path = workdir / "ddp.json"
    spec_path.write_text(json.dumps(spec))
    agent = _Agent(world, rendezvous, config.distributed.timeout_s, workdir / "ddp-logs", spec_path)
    agent.start()
    events = _EventTail(files["events"])
    while agent.is_alive():
        agent.join(POLL_S)
        if should_cancel():
            files["cancel_file"].touch()
        for event in events.read():
            emit(event)
    for event in events.read():
        emit(event)
    if agent.error is not None:
        raise _run_error(agent.error, files["errors"], workdir / "ddp-logs")
    if not files["result"].exists():
        return None  # global rank 0 ran on another node
    return FitResult.from_json(json.loads(files["result"].read_text()), checkpoint_dir)


class _Agent(threading.Thread):
    """torch's elastic agent for ``world`` local ranks, in a thread; ``error`` is what it raised."""

    def __init__(self, world: int, rendezvous: Rendezvous, timeout_s: int, log_dir: Path, spec_path: Path) -> None:
        super().__init__(name="ddp-elastic-agent", daemon=True)
        from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
        from torch.distributed.launcher.api import LaunchConfig

        self.config = LaunchConfig(
            min_nodes=rendezvous.nodes, max_nodes=rendezvous.nodes, nproc_per_node=world,
            run_id=rendezvous.run_id or uuid.uuid4().hex, rdzv_backend="c10d", rdzv_endpoint=rendezvous.endpoint,
            rdzv_configs={"join_timeout": timeout_s, **({} if rendezvous.is_host is None
                                                         else {"is_host": rendezvous.is_host})},
            rdzv_timeout=timeout_s, local_addr=rendezvous.local_addr,
            max_restarts=0,  # a failed rank fails the run; the worker's retry resumes from the checkpoint
            monitor_interval=POLL_S, shutdown_timeout=10,
            logs_specs=DefaultLogsSpecs(log_dir=str(log_dir), redirects=Std.ALL))
        self.args = ("-c", BOOTSTRAP, str(spec_path))
        self.error: BaseException | None = None

    def run(self) -> None:
        from torch.distributed.launcher.api import elastic_launch

        try:
            elastic_launch(self.config, sys.executable)(*self.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the launching thread
            self.error = exc


class _EventTail:
    """The complete JSON lines appended to ``path`` since the last read."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


def _run_error(error: BaseException, errors_dir: Path, log_dir: Path) -> TrainingError:
    """One ``TrainingError`` naming every failed rank: a signal that killed one first (the likely
    cause), then each rank's own exception; a rank's ``TrainingError`` code wins."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    raised = {int(path.stem.removeprefix("rank")): json.loads(path.read_text()) for path in errors_dir.glob("rank*.json")}
    reasons: list[str] = []
    if isinstance(error, ChildFailedError):
        for rank, failure in sorted(error.failures.items()):
            if rank in raised:
                continue  # its own exception says more than the signal that stopped it after
            if failure.exitcode < 0:
                reasons.append(f"rank {rank} was killed by {failure.signal_name()}")
            else:
                reasons.append(f"rank {rank} exited with code {failure.exitcode}{_stderr_tail(log_dir, rank)}")
    else:
        reasons.append(f"the elastic launcher failed: {type(error).__name__}: {error}")
    for rank, found in sorted(raised.items(), key=lambda item: item[1]["time"]):
        reasons.append(f"rank {rank}: {found['message']}")
    codes = [found["code"] for found in raised.values() if found["code"] != "distributed_failed"]
    return TrainingError(codes[0] if codes else "distributed_failed",
                         "a data-parallel rank failed: " + "; ".join(reasons))


def _stderr_tail(log_dir: Path, rank: int, lines: int = 5) -> str:
    found = sorted(log_dir.glob(f"*/attempt_*/{rank}/stderr.log"), key=lambda path: path.stat().st_mtime)
    if not found:
        return ""
    tail = [line for line in found[-1].read_text(errors="replace").splitlines() if line.strip()][-lines:]
    return (": " + " | ".join(tail)) if tail else ""


class _CollectiveCancel:
    """Every rank asks; rank 0 looks at the cancel file every ``every`` steps and broadcasts."""

    def __init__(self, path: Path, every: int, device: torch.device) -> None:
        self.path, self.every, self.device, self.calls = path, every, device, 0

    def __call__(self) -> bool:
        self.calls += 1
        if self.calls % self.every:
            return False
        flag = torch.tensor([1 if dist.get_rank() == 0 and self.path.exists() else 0], device=self.device)
        dist.broadcast(flag, 0)
        return bool(flag.item())


def _exit_with_launcher() -> None:
    """End this rank when the process that launched it is gone (a worker killed with SIGKILL):
    ranks run in their own session, so nothing else would stop them training on."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(70)
    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def main() -> None:
    """A rank's entry point (``sys.argv[1]``: the spec file); the agent's environment says which."""
    _exit_with_launcher()
    spec = json.loads(Path(sys.argv[1]).read_text())
    rank = int(os.environ["RANK"])
    try:
        rank_main(spec, rank, int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]))
    except Exception as exc:
        code = exc.code if isinstance(exc, TrainingError) else "distributed_failed"
        errors = Path(spec["errors"])
        errors.mkdir(parents=True, exist_ok=True)
        (errors / f"rank{rank}.json").write_text(json.dumps(
            {"code": code, "message": f"{type(exc).__name__}: {exc}", "time": time.time()}))
        raise


def rank_main(spec: dict[str, Any], rank: int, local_rank: int, world: int) -> None:
    """Train as rank ``rank`` of ``world`` on local device ``spec["device_indices"][local_rank]``."""
    from builder.graph import compile_graph

    from . import devices
    from .data import cached_loaders
    from .engine import fit

    config = RunConfig.model_validate(spec["config"])
    dist.init_process_group(spec["backend"], timeout=timedelta(seconds=config.distributed.timeout_s))
    try:
        device = devices.resolve(spec["device_kind"], index=spec["device_indices"][local_rank])
        devices.set_device(device)
        if device.type == "cpu":  # ranks share the cores; more threads than cores only thrash
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        data = cached_loaders(Path(spec["cache"]), batch_size=config.batch_size, seed=config.seed,
                              classes=spec["classes"], augmentation=spec["augmentation"],
                              resize=tuple(spec["resize"]) if spec["resize"] else None, rank=rank, world=world,
                              target=TargetTransform.from_dict(spec.get("target")))
        events = Path(spec["events"]).open("a") if rank == 0 else None

        def emit(event: dict[str, Any]) -> None:
            if events is not None:
                events.write(json.dumps(event) + "\n")
                events.flush()

        result = fit(compile_graph(spec["document"]), data, config, device=device,
                     checkpoint_dir=Path(spec["checkpoint_dir"]),
                     resume_from=Path(spec["resume_from"]) if spec["resume_from"] else None,
                     layer_flops=spec["layer_flops"], emit=emit,
                     should_cancel=_CollectiveCancel(Path(spec["cancel_file"]), config.stats_every, device),
                     ddp={"world": world})
        if events is not None:
            events.close()
        if rank == 0:
            Path(spec["result"]).write_text(json.dumps(result.to_json()))
    finally:
        dist.destroy_process_group()
