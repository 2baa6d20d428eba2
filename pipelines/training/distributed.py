"""Data-parallel training: one process per device, launched by the worker.

The Celery worker's pool processes are daemonic and may not fork children through
multiprocessing, so ranks are plain subprocesses (``python -m pipelines.training.distributed
spec.json``), like torchrun's. Rank 0 writes its events as JSON lines on stdout, which the
launcher forwards; a cancel is a file every rank sees at the same step (rank 0 decides and
broadcasts). Backend: NCCL on CUDA, gloo elsewhere, or as the run config says.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .config import RunConfig
from .engine import FitResult, TrainingError

EVENT_PREFIX = "@event "
ROOT = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(*, world: int, device_kind: str, document: dict[str, Any], config: RunConfig, cache: Path, classes: int,
           resize: tuple[int, ...] | None, augmentation: dict[str, Any] | None, checkpoint_dir: Path,
           resume_from: Path | None, layer_flops: dict[str, int], workdir: Path,
           emit: Callable[[dict[str, Any]], None], should_cancel: Callable[[], bool],
           device_indices: list[int] | None = None) -> FitResult:
    """Run ``world`` ranks to the end, rank r on device ``device_indices[r]`` (default: r); returns
    rank 0's result. Raises ``TrainingError`` if a rank fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    backend = config.distributed.backend or ("nccl" if device_kind == "cuda" else "gloo")
    spec = {"world": world, "device_kind": device_kind, "backend": backend, "port": _free_port(),
            "device_indices": list(device_indices or range(world)),
            "document": document, "config": config.model_dump(mode="json"), "cache": str(cache), "classes": classes,
            "resize": list(resize) if resize else None, "augmentation": augmentation,
            "checkpoint_dir": str(checkpoint_dir), "resume_from": str(resume_from) if resume_from else None,
            "layer_flops": layer_flops, "cancel_file": str(workdir / "cancel"), "result": str(workdir / "result.json")}
    (workdir / "cancel").unlink(missing_ok=True)
    spec_path = workdir / "ddp.json"
    spec_path.write_text(json.dumps(spec))
    procs = [subprocess.Popen([sys.executable, "-m", "pipelines.training.distributed", str(spec_path), str(rank)],
                              cwd=ROOT, stdout=subprocess.PIPE if rank == 0 else subprocess.DEVNULL,
                              stderr=subprocess.STDOUT if rank == 0 else None, text=True)
             for rank in range(world)]
    tail: list[str] = []
    assert procs[0].stdout is not None
    for line in procs[0].stdout:
        if should_cancel():
            Path(str(spec["cancel_file"])).touch()
        if line.startswith(EVENT_PREFIX):
            emit(json.loads(line[len(EVENT_PREFIX):]))
        else:
            tail = (tail + [line.rstrip()])[-20:]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise TrainingError("distributed_failed", f"a data-parallel rank exited with {codes}: " + "\n".join(tail))
    result = json.loads(Path(str(spec["result"])).read_text())
    return FitResult.from_json(result, checkpoint_dir)


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


def rank_main(spec_path: Path, rank: int) -> None:
    from builder.graph import compile_graph

    from . import devices
    from .data import cached_loaders
    from .engine import fit

    spec = json.loads(spec_path.read_text())
    world = spec["world"]
    dist.init_process_group(spec["backend"], init_method=f"tcp://127.0.0.1:{spec['port']}", rank=rank,
                            world_size=world)
    try:
        device = devices.resolve(spec["device_kind"], index=spec["device_indices"][rank])
        devices.set_device(device)
        if device.type == "cpu":  # ranks share the cores; more threads than cores only thrash
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
        config = RunConfig.model_validate(spec["config"])
        data = cached_loaders(Path(spec["cache"]), batch_size=config.batch_size, seed=config.seed,
                              classes=spec["classes"], augmentation=spec["augmentation"],
                              resize=tuple(spec["resize"]) if spec["resize"] else None, rank=rank, world=world)

        def emit(event: dict[str, Any]) -> None:
            if rank == 0:
                print(EVENT_PREFIX + json.dumps(event), flush=True)

        result = fit(compile_graph(spec["document"]), data, config, device=device,
                     checkpoint_dir=Path(spec["checkpoint_dir"]),
                     resume_from=Path(spec["resume_from"]) if spec["resume_from"] else None,
                     layer_flops=spec["layer_flops"], emit=emit,
                     should_cancel=_CollectiveCancel(Path(spec["cancel_file"]), config.stats_every, device),
                     ddp={"overlap": config.distributed.overlap})
        if rank == 0:
            Path(spec["result"]).write_text(json.dumps(result.to_json()))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    rank_main(Path(sys.argv[1]), int(sys.argv[2]))
