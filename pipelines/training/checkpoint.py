"""Atomic checkpoints without pickle.

A checkpoint is a folder ``epoch-NNNN`` holding ``weights.safetensors`` (the model),
``optimizer.safetensors`` (its tensors) and ``state.json`` (optimizer groups, scheduler, scaler,
precision decisions, RNG states, position and history). It is written into a temporary folder,
each file fsynced, then renamed into place, and ``latest.json`` is replaced the same way, so a
worker killed at any instant leaves either the previous checkpoint or the new one, never half.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

LATEST = "latest.json"
BEST = "best"


@dataclass
class Checkpoint:
    folder: Path
    weights: dict[str, torch.Tensor]
    optimizer_tensors: dict[str, torch.Tensor]
    state: dict[str, Any]


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def model_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with DDP's ``module.`` prefix removed, tensors on the CPU."""
    inner = getattr(model, "module", model)
    return _cpu(inner.state_dict())


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (safetensors) and JSON."""
    raw = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in raw["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return _cpu(tensors), {"param_groups": raw["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    version, internal, gauss = random.getstate()
    np_state: Any = np.random.get_state()  # the legacy tuple (the stubs also allow a dict)
    meta = {"python": [version, list(internal), gauss],
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]}
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    if "torch" in tensors:
        torch.set_rng_state(tensors["torch"])
    if torch.cuda.is_available():
        states = [tensors[f"cuda.{i}"] for i in range(torch.cuda.device_count()) if f"cuda.{i}" in tensors]
        if states:
            torch.cuda.set_rng_state_all(states)
    if "python" in meta:
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in meta:
        name, keys, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def save(root: Path, epoch: int, weights: dict[str, torch.Tensor], optimizer_tensors: dict[str, torch.Tensor],
         state: dict[str, Any], *, best: bool = False) -> Path:
    """Write checkpoint ``epoch`` atomically and point ``latest.json`` at it; keep only the latest
    and (when ``best``) copy it as ``best``. Returns the checkpoint folder."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epoch:04d}"
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    _write(scratch / "weights.safetensors", st_save(weights))
    _write(scratch / "optimizer.safetensors", st_save(optimizer_tensors))
    _write(scratch / "state.json", json.dumps(state, default=_json_default).encode())
    _fsync_dir(scratch)
    final = root / name
    if final.exists():  # a resumed run writing the same epoch again
        shutil.rmtree(final)
    os.replace(scratch, final)
    if best:
        _replace_folder(final, root / BEST)
    _write(root / ".latest.tmp", json.dumps({"checkpoint": name, "epoch": epoch}).encode())
    os.replace(root / ".latest.tmp", root / LATEST)
    _fsync_dir(root)
    for old in root.glob("epoch-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _replace_folder(source: Path, target: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    for file in source.iterdir():
        shutil.copy2(file, scratch / file.name)
    _fsync_dir(scratch)
    if target.exists():
        old = target.with_name(f".old-{target.name}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(scratch, target)


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot be stored in a checkpoint")


def latest(root: Path) -> Path | None:
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    folder = root / json.loads(pointer.read_text())["checkpoint"]
    return folder if folder.is_dir() else None


def load(folder: Path) -> Checkpoint:
    """Read a checkpoint folder: safetensors and JSON only, nothing is unpickled."""
    return Checkpoint(
        folder=folder,
        weights=st_load((folder / "weights.safetensors").read_bytes()),
        optimizer_tensors=st_load((folder / "optimizer.safetensors").read_bytes()),
        state=json.loads((folder / "state.json").read_text()),
    )


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    """Weights from ``.safetensors``, or from a ``.pt`` file with ``weights_only=True`` (never pickle)."""
    if path.suffix == ".safetensors":
        return st_load(path.read_bytes())
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path.name} does not hold a state dict")
    return loaded
