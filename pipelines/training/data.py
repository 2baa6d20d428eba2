"""Loaders over a dataset version's cache for training: seeded shuffling and augmentation that
resume exactly, sharded across data-parallel ranks, and a resize when the graph wants another
input size. Both random streams are functions of ``(seed, rank, epoch)``, set at each epoch's
start by ``TrainData.set_epoch``; a checkpoint's epoch fixes them, so they need no saved state."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, SequentialSampler

from pipelines.datasets.loader import CachedDataset
from pipelines.datasets.targets import TargetTransform

from .session import TrainData


def _batched(dataset: CachedDataset, sampler: Any, batch_size: int, drop_last: bool) -> DataLoader:
    # The sampler hands whole index lists to the dataset: one sorted read of the memory map per batch.
    return DataLoader(dataset, batch_size=None, sampler=BatchSampler(sampler, batch_size, drop_last))


def resize_to(shape: tuple[int, ...] | None) -> Any:
    """A batch transform resizing (N, C, H, W) images to the graph's (H, W), or None."""
    if shape is None:
        return None
    size = tuple(shape)

    def transform(x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and tuple(x.shape[-2:]) != size:
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x
    return transform


def cached_loaders(cache: Path, *, batch_size: int, seed: int, classes: int,
                   augmentation: dict[str, Any] | None = None, resize: tuple[int, ...] | None = None,
                   rank: int = 0, world: int = 1, eval_batch_size: int = 512,
                   target: TargetTransform | None = None) -> TrainData:
    """Train / val / test loaders over a cache folder. ``batch_size`` is the global batch: each
    of ``world`` ranks reads ``batch_size // world`` samples of the same seeded permutation.
    ``target``: a regression target's scaling (``pipelines.datasets.targets``), applied on the
    device by the engine; the loaders always yield the raw target."""
    train = CachedDataset(cache, "train", augmentation=augmentation, seed=seed + rank)
    val = CachedDataset(cache, "val")
    test = CachedDataset(cache, "test")
    per_rank = max(1, batch_size // world)
    sampler: DistributedSampler[int] = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    # Whole batches only, so every rank steps the same number of times and a data-parallel
    # step sees exactly the global batch one process would.
    steps = max(1, len(sampler) // per_rank)

    def set_epoch(epoch: int) -> None:
        sampler.set_epoch(epoch)
        train.set_epoch(epoch)

    return TrainData(
        train=_batched(train, sampler, per_rank, len(sampler) >= per_rank),
        val=_batched(val, SequentialSampler(val), eval_batch_size, False),
        test=_batched(test, SequentialSampler(test), eval_batch_size, False) if len(test) else None,
        classes=classes,
        steps_per_epoch=steps,
        transform=resize_to(resize),
        set_epoch=set_epoch,
        target=target,
        target_mean=_mean_target(train, target),
    )


def _mean_target(train: CachedDataset, target: TargetTransform | None) -> list[float] | None:
    """The training split's mean target per column, in the units the network learns (after
    ``target``), or None when the targets are class indices or masks. Every rank reads the whole
    split, so every rank starts from the same value."""
    if train.masks is not None or not train.targets.is_floating_point() or len(train) == 0:
        return None
    y = train.targets[torch.from_numpy(train.indices)].reshape(len(train), -1).float()
    if target is not None:
        y = target.forward(y)
    return [float(v) for v in y.double().mean(dim=0)]
