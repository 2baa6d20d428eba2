"""Augmentation settings (stored as JSON on a dataset) and their application to one sample.

Works on images ``(C, H, W)`` and volumes ``(C, D, H, W)``; rotation is in the H-W plane.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field


class AugmentationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flip_horizontal: bool = Field(False, description="Mirror left-right with probability 0.5.")
    flip_vertical: bool = Field(False, description="Mirror top-bottom with probability 0.5.")
    flip_depth: bool = Field(False, description="Volumes: reverse the slice order with probability 0.5.")
    rotate_degrees: float = Field(0.0, ge=0.0, le=180.0, description="Random rotation in [-x, x] degrees.")
    crop_scale: float = Field(1.0, ge=0.3, le=1.0, description="Random crop of this share of each side, resized back.")
    intensity_jitter: float = Field(0.0, ge=0.0, le=1.0, description="Random brightness and contrast change of up to x.")

    @property
    def is_identity(self) -> bool:
        return self == AugmentationSettings()


def augment(sample: torch.Tensor, settings: AugmentationSettings, generator: torch.Generator) -> torch.Tensor:
    """A randomly augmented copy of ``sample`` (float tensor, channels first)."""
    if settings.is_identity:
        return sample

    def coin() -> bool:
        return bool(torch.rand((), generator=generator) < 0.5)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator))

    x = sample
    if settings.flip_horizontal and coin():
        x = x.flip(-1)
    if settings.flip_vertical and coin():
        x = x.flip(-2)
    if settings.flip_depth and x.dim() == 4 and coin():
        x = x.flip(-3)
    if settings.rotate_degrees > 0:
        x = _rotate(x, math.radians(uniform(-settings.rotate_degrees, settings.rotate_degrees)))
    if settings.crop_scale < 1.0:
        x = _crop(x, uniform(settings.crop_scale, 1.0), generator)
    if settings.intensity_jitter > 0:
        j = settings.intensity_jitter
        x = x * uniform(1 - j, 1 + j) + uniform(-j, j) * x.std().clamp(min=1e-6)
    return x


def _planes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """(N, C', H, W) view of an image or volume, to transform every slice the same way."""
    return x.reshape(1, -1, x.shape[-2], x.shape[-1]), x.shape


def _rotate(x: torch.Tensor, angle: float) -> torch.Tensor:
    planes, shape = _planes(x)
    cos, sin = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[[cos, -sin, 0.0], [sin, cos, 0.0]]], dtype=planes.dtype)
    grid = F.affine_grid(theta, list(planes.shape), align_corners=False)
    return F.grid_sample(planes, grid, align_corners=False, padding_mode="border").reshape(shape)


def _crop(x: torch.Tensor, scale: float, generator: torch.Generator) -> torch.Tensor:
    planes, shape = _planes(x)
    height, width = planes.shape[-2:]
    ch, cw = max(1, int(height * scale)), max(1, int(width * scale))
    top = int(torch.randint(0, height - ch + 1, (), generator=generator))
    left = int(torch.randint(0, width - cw + 1, (), generator=generator))
    cropped = planes[..., top : top + ch, left : left + cw]
    return F.interpolate(cropped, size=(height, width), mode="bilinear", align_corners=False).reshape(shape)
