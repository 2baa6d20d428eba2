"""How a data-parallel rank wraps its model: batch norm over the global batch, DDP's gradient
buckets, and gradient compression.

- ``overlap: true`` is plain DDP: gradients go in buckets (1 MiB first, then 25 MiB) whose
  all-reduce starts as soon as backward has produced them, overlapping the rest of backward.
- ``overlap: false`` is the fair baseline without overlap: the same DDP with one bucket larger
  than the model, so its single all-reduce can start only once backward is done.
- ``compression`` registers a DDP communication hook: ``fp16`` / ``bf16`` halve the bytes sent
  (``default_hooks``), ``powersgd`` sends a rank-``powersgd_rank`` approximation after
  ``POWERSGD_WARMUP_STEPS`` exact steps, with error feedback (``powerSGD_hook``). On gloo it
  runs with one bucket: its hook issues collectives from future callbacks, which gloo completes
  on several threads, so with two buckets in flight the ranks can issue them in different orders
  (gloo then aborts: "Received data size doesn't match expected size").

PowerSGD keeps state between steps: each rank's error feedback (what its approximation left out,
added back next step), the warm-started P and Q matrices, the step count and the RNG that seeds
each step's projection. ``gather_powersgd`` collects it from every rank at a checkpoint and
``restore_powersgd`` puts each rank's back on resume, so a resumed run takes the steps an
uninterrupted one takes (tests/pipelines/training/test_distributed.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook
from torch.nn.parallel import DistributedDataParallel

from . import ddp_batchnorm
from .config import DistributedConfig

POWERSGD_WARMUP_STEPS = 10  # exact all-reduces first: PowerSGD's paper and torch's guidance
_MB = 2**20


def sync_batchnorm_on(model: nn.Module, settings: DistributedConfig) -> bool:
    """Whether batch norm should span the ranks: as configured, else when the model has any."""
    if settings.sync_batchnorm is not None:
        return settings.sync_batchnorm and ddp_batchnorm.has_batchnorm(model)
    return ddp_batchnorm.has_batchnorm(model)


def one_bucket_cap_mb(model: nn.Module) -> float:
    """A bucket cap (MiB) above the bytes of every trainable parameter: DDP makes a single bucket."""
    size = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return size / _MB + 1.0


def one_bucket(settings: DistributedConfig) -> bool:
    """Whether DDP gets a single bucket: without overlap, and for PowerSGD on gloo (see above)."""
    return not settings.overlap or (settings.compression == "powersgd" and dist.get_backend() == "gloo")


def wrap(model: nn.Module, device: torch.device, settings: DistributedConfig) -> DistributedDataParallel:
    """``model`` (already converted by ``ddp_batchnorm.convert`` when wanted) in DDP, with the
    bucket policy of ``settings.overlap`` and the hook of ``settings.compression``."""
    wrapped = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        bucket_cap_mb=one_bucket_cap_mb(model) if one_bucket(settings) else None)  # type: ignore[arg-type]
    if settings.compression == "fp16":
        wrapped.register_comm_hook(None, default_hooks.fp16_compress_hook)
    elif settings.compression == "bf16":
        wrapped.register_comm_hook(None, default_hooks.bf16_compress_hook)
    elif settings.compression == "powersgd":
        state = ResumablePowerSGDState(model, process_group=None, matrix_approximation_rank=settings.powersgd_rank,
                                       start_powerSGD_iter=POWERSGD_WARMUP_STEPS)
        wrapped.register_comm_hook(state, powerSGD_hook_resumable)
        wrapped.vmb_powersgd = state  # type: ignore[assignment]  # read by powersgd_state
    return wrapped


class ResumablePowerSGDState(powerSGD_hook.PowerSGDState):
    """torch's PowerSGD state, plus what a checkpoint needs to save it per parameter: each
    parameter's name and shape, each bucket's parameters in order (as the hook last saw them), and
    a resumed run's saved pieces until each bucket's next step lays them out."""

    def __init__(self, model: nn.Module, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        named = dict(model.named_parameters())
        self.vmb_names = {id(p): name for name, p in named.items()}
        self.vmb_shapes = {name: tuple(p.shape) for name, p in named.items()}
        self.vmb_layouts: dict[int, list[str]] = {}
        self.vmb_pending: dict[str, torch.Tensor] = {}


def powerSGD_hook_resumable(state: ResumablePowerSGDState, bucket: dist.GradBucket) -> Any:  # noqa: N802
    """torch's ``powerSGD_hook``, remembering which parameters the bucket holds, in which order, and
    first laying a resumed run's saved state out in this bucket's order (``_lay_out``)."""
    order = [state.vmb_names.get(id(p), "") for p in bucket.parameters()]
    state.vmb_layouts[bucket.index()] = order
    if state.vmb_pending:
        _lay_out(state, bucket.index(), order, [tuple(p.shape) for p in bucket.parameters()], state.vmb_pending)
    return powerSGD_hook.powerSGD_hook(state, bucket)


# DDP checks a hook's annotations as objects; this module's are strings (``from __future__``).
powerSGD_hook_resumable.__annotations__ = {"state": ResumablePowerSGDState, "bucket": dist.GradBucket,
                                           "return": torch.futures.Future[torch.Tensor]}

_POWERSGD_COUNTERS = ("iter", "next_stats_report", "total_numel_before_compression", "total_numel_after_compression")


def _blocks(state: powerSGD_hook.PowerSGDState, shapes: list[tuple[int, ...]]) -> list[tuple[int, int, int]]:
    """Where each parameter's P and Q sit in a bucket's P and Q memory, as torch's hook lays them
    out: (parameter position, P length, Q length) for the compressed ones, grouped by matrix shape
    in order of first appearance."""
    grouped: dict[tuple[int, int], list[int]] = {}
    for position, shape in enumerate(shapes):
        n = shape[0] if shape else 1
        m = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        rank = min(n, m, state.matrix_approximation_rank)
        if powerSGD_hook._should_compress(n, m, rank, state.min_compression_rate)[0]:
            grouped.setdefault((n, m), []).append(position)
    return [(position, n * min(n, m, state.matrix_approximation_rank), m * min(n, m, state.matrix_approximation_rank))
            for (n, m), positions in grouped.items() for position in positions]


def _by_parameter(state: powerSGD_hook.PowerSGDState, index: int, order: list[str],
                  shapes: list[tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Bucket ``index``'s error, P and Q split per parameter: ``"error.<name>"``, ``"p.<name>"``..."""
    pieces: dict[str, torch.Tensor] = {}
    error = state.error_dict.get(index)
    if error is not None:
        sizes = [int(np.prod(shape)) for shape in shapes]
        for name, piece in zip(order, torch.split(error.detach().cpu(), sizes), strict=True):
            pieces[f"error.{name}"] = piece.clone()
    if index in state.p_memory_dict:
        blocks = _blocks(state, shapes)
        p_parts = torch.split(state.p_memory_dict[index].detach().cpu(), [b[1] for b in blocks])
        q_parts = torch.split(state.q_memory_dict[index].detach().cpu(), [b[2] for b in blocks])
        for (position, _, _), p_part, q_part in zip(blocks, p_parts, q_parts, strict=True):
            pieces[f"p.{order[position]}"] = p_part.clone()
            pieces[f"q.{order[position]}"] = q_part.clone()
    return pieces


def _lay_out(state: powerSGD_hook.PowerSGDState, index: int, order: list[str], shapes: list[tuple[int, ...]],
             pending: dict[str, torch.Tensor]) -> None:
    """Rebuild bucket ``index``'s error, P and Q from saved per-parameter pieces, in the order this
    bucket holds its parameters now (a resumed DDP's first buckets need not match the rebuilt ones
    the state was saved from). A bucket whose pieces are not all there starts afresh."""
    device = next(iter(pending.values())).device if pending else torch.device("cpu")
    errors = [pending.get(f"error.{name}") for name in order]
    if all(e is not None for e in errors):
        state.error_dict[index] = torch.cat(errors).to(device)  # type: ignore[arg-type]
    blocks = _blocks(state, shapes)
    ps = [pending.get(f"p.{order[position]}") for position, _, _ in blocks]
    qs = [pending.get(f"q.{order[position]}") for position, _, _ in blocks]
    if blocks and all(p is not None for p in ps) and all(q is not None for q in qs):
        state.p_memory_dict[index] = torch.cat(ps).to(device)  # type: ignore[arg-type]
        state.q_memory_dict[index] = torch.cat(qs).to(device)  # type: ignore[arg-type]
    for name in order:
        for kind in ("error", "p", "q"):
            pending.pop(f"{kind}.{name}", None)


def powersgd_state(model: nn.Module) -> ResumablePowerSGDState | None:
    """The PowerSGD state ``wrap`` registered on ``model``, or None (another or no compression)."""
    return getattr(model, "vmb_powersgd", None)


def powersgd_state_dict(state: ResumablePowerSGDState) -> dict[str, Any]:
    """One rank's PowerSGD state: its error feedback, P and Q per parameter name (tensors), and the
    step count and projection RNG (JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    for index, order in state.vmb_layouts.items():
        shapes = [state.vmb_shapes[name] for name in order]
        tensors.update(_by_parameter(state, index, order, shapes))
    kind, keys, pos, has_gauss, cached = state.rng.get_state(legacy=True)
    meta: dict[str, Any] = {name: int(getattr(state, name)) for name in _POWERSGD_COUNTERS}
    meta["rng"] = [kind, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)]
    return {"tensors": tensors, "meta": meta}


def gather_powersgd(model: nn.Module) -> list[dict[str, Any]] | None:
    """Every rank's ``powersgd_state_dict``, in rank order (a collective: all ranks call it), or
    None when the run does not use PowerSGD."""
    state = powersgd_state(model)
    if state is None:
        return None
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, powersgd_state_dict(state))
    return gathered


def restore_powersgd(model: nn.Module, saved: dict[str, Any], device: torch.device) -> None:
    """Put this rank's saved PowerSGD state (a ``powersgd_state_dict``) back into ``model``'s hook:
    the counters and RNG at once, the tensors at each bucket's next step (``_lay_out``)."""
    state = powersgd_state(model)
    assert state is not None
    state.vmb_pending = {key: tensor.to(device) for key, tensor in saved["tensors"].items()}
    meta = saved["meta"]
    for name in _POWERSGD_COUNTERS:
        setattr(state, name, int(meta[name]))
    kind, keys, pos, has_gauss, cached = meta["rng"]
    state.rng.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def describe(wrapped: DistributedDataParallel) -> dict[str, Any]:
    """What DDP reports about itself (``_get_ddp_logging_data``): the number of buckets it
    all-reduced in the last step, their sizes in bytes, and the communication hook."""
    data = wrapped._get_ddp_logging_data()
    sizes = str(data.get("rebuilt_bucket_sizes") or data.get("bucket_sizes") or "")
    return {"buckets": int(data.get("num_buckets_reduced", 0)),
            "bucket_bytes": [int(size) for size in sizes.split(",") if size.strip()],
            "comm_hook": str(data.get("comm_hook", "")), "sync_batchnorm": bool(data.get("has_sync_bn", 0))}


def summary(wrapped: DistributedDataParallel, settings: DistributedConfig) -> str:
    """One line for the run log: ranks, backend, bucket policy, compression, batch norm."""
    synced = any(ddp_batchnorm.is_synced(module) for module in wrapped.module.modules())
    buckets = "gradient buckets all-reduced during backward (overlap on)"
    if one_bucket(settings):
        why = "overlap off" if not settings.overlap else "PowerSGD on gloo"
        buckets = (f"one gradient bucket of {one_bucket_cap_mb(wrapped.module):.1f} MiB, all-reduced after "
                   f"backward ({why})")
    return (f"data parallel on {dist.get_world_size()} ranks ({dist.get_backend()}): {buckets}; "
            f"compression {settings.compression}; batch norm {'synchronised across ranks' if synced else 'per rank'}")
