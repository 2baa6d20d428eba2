"""Optimizers, learning-rate schedules (stepped every batch) and losses from a run config."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import OptimizerConfig, ScheduleConfig


def build_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def build_schedule(optimizer: torch.optim.Optimizer, config: ScheduleConfig, lr: float, epochs: int,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    total = max(1, epochs * steps_per_epoch)
    if config.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size * steps_per_epoch,
                                               gamma=config.gamma)
    if config.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.name == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total,
                                                   pct_start=config.warmup_fraction)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)


def build_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y.long())
    if name in ("mse", "l1", "smooth_l1"):
        fn = {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}[name]
        return lambda out, y: fn(out.float().reshape(y.shape[0], -1).squeeze(1), y.float().reshape(y.shape[0], -1).squeeze(1))
    if name == "dice":
        return dice_loss
    if name == "dice_cross_entropy":
        return lambda out, y: dice_loss(out, y) + F.cross_entropy(out, y.long())
    raise ValueError(f"unknown loss {name!r}")


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss of the foreground classes (1 and up; class 0 is background), their overlap
    and sizes summed over the whole batch before the ratio (nnU-Net's "batch Dice"), then averaged
    over those classes; smoothing 1. Background is left out because it is nearly every voxel (its
    Dice is about 1 whatever the network does), and counts are pooled over the batch because one
    volume without lesions would otherwise score 1 / (1 + predicted) and ask for an empty mask as
    loudly as a volume with lesions asks for them. A single class (no foreground) falls back to it."""
    probabilities = logits.float().softmax(1)
    one_hot = F.one_hot(targets.long(), probabilities.shape[1]).movedim(-1, 1).float()
    if probabilities.shape[1] > 1:
        probabilities, one_hot = probabilities[:, 1:], one_hot[:, 1:]
    dims = (0, *range(2, probabilities.dim()))
    overlap = (probabilities * one_hot).sum(dims)
    total = probabilities.sum(dims) + one_hot.sum(dims)
    return 1 - ((2 * overlap + 1) / (total + 1)).mean()
