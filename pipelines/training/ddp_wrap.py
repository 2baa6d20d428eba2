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
"""
from __future__ import annotations

from typing import Any

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
        state = powerSGD_hook.PowerSGDState(process_group=None, matrix_approximation_rank=settings.powersgd_rank,
                                            start_powerSGD_iter=POWERSGD_WARMUP_STEPS)
        wrapped.register_comm_hook(state, powerSGD_hook.powerSGD_hook)
    return wrapped


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
