"""Augmentation settings (stored as JSON on a dataset) and their application to one sample.

Works on images ``(C, H, W)`` and volumes ``(C, D, H, W)``; ``rotate_degrees`` is in the H-W plane.
The 3-D affine and elastic deformation (volumes only) and the Gaussian noise are MONAI's transforms,
in ``augment_volume``; the flips, in-plane rotation, crop and intensity jitter stay hand-written
(a few tensor operations, and runs saved before keep drawing exactly what they drew).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .augment_volume import gaussian_noise, has_spatial_3d, spatial_3d, volume_fields_set


class AugmentationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flip_horizontal: bool = Field(False, description="Mirror left-right with probability 0.5.")
    flip_vertical: bool = Field(False, description="Mirror top-bottom with probability 0.5.")
    flip_depth: bool = Field(False, description="Volumes: reverse the slice order with probability 0.5.")
    rotate_degrees: float = Field(0.0, ge=0.0, le=180.0, description="Random rotation in [-x, x] degrees.")
    crop_scale: float = Field(1.0, ge=0.3, le=1.0, description="Random crop of this share of each side, resized back.")
    intensity_jitter: float = Field(0.0, ge=0.0, le=1.0, description="Random brightness and contrast change of up to x.")
    rotate_3d_degrees: float = Field(
        0.0, ge=0.0, le=180.0,
        description="Volumes only: random rotation about each of the three axes in [-x, x] degrees (MONAI RandAffine).")
    scale_3d: float = Field(
        0.0, ge=0.0, le=0.5,
        description="Volumes only: random zoom of each axis by a factor in [1 - x, 1 + x] (MONAI RandAffine).")
    elastic_3d: float = Field(
        0.0, ge=0.0, le=8.0,
        description="Volumes only: random elastic deformation moving voxels by about x voxels (root mean square "
        "per axis; MONAI Rand3DElastic). 0: off.")
    elastic_3d_sigma: float = Field(
        6.0, ge=2.0, le=16.0,
        description="Volumes only: smoothness of the elastic deformation, the Gaussian sigma in voxels.")
    gaussian_noise: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Add Gaussian noise of standard deviation x times the sample's (MONAI RandGaussianNoise).")

    @property
    def is_identity(self) -> bool:
        return self == AugmentationSettings()

    def volume_only(self) -> list[str]:
        """The fields set here that apply to volumes (C, D, H, W) only."""
        return volume_fields_set(self)


def augment(sample: torch.Tensor, settings: AugmentationSettings, generator: torch.Generator) -> torch.Tensor:
    """A randomly augmented copy of ``sample`` (float tensor, channels first)."""
    if settings.is_identity:
        return sample
    return augment_pair(sample, None, settings, generator)[0]


def augment_pair(sample: torch.Tensor, mask: torch.Tensor | None, settings: AugmentationSettings,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``sample`` and its segmentation ``mask`` (integer class ids, the sample's spatial shape
    without channels) under the same random flips, rotation, crop and (volumes) 3-D affine and
    elastic deformation; the mask is resampled nearest, so it keeps class ids. Intensity jitter and
    noise change the sample only. Volume-only settings on a 2-D sample raise ``ValueError``."""
    if settings.is_identity:
        return sample, mask
    if sample.dim() != 4 and settings.volume_only():
        raise ValueError(f"{settings.volume_only()[0]} applies to volumes (C, D, H, W); this sample is "
                         f"{tuple(sample.shape)}")

    def coin() -> bool:
        return bool(torch.rand((), generator=generator) < 0.5)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator))

    x, m = sample, mask
    if settings.flip_horizontal and coin():
        x, m = x.flip(-1), None if m is None else m.flip(-1)
    if settings.flip_vertical and coin():
        x, m = x.flip(-2), None if m is None else m.flip(-2)
    if settings.flip_depth and x.dim() == 4 and coin():
        x, m = x.flip(-3), None if m is None else m.flip(-3)
    if settings.rotate_degrees > 0:
        angle = math.radians(uniform(-settings.rotate_degrees, settings.rotate_degrees))
        x = _rotate(x, angle)
        m = None if m is None else _as_mask(_rotate(_as_planes(m), angle, "nearest"), m)
    if settings.crop_scale < 1.0:
        box = _crop_box(x, uniform(settings.crop_scale, 1.0), generator)
        x = _crop(x, box)
        m = None if m is None else _as_mask(_crop(_as_planes(m), box, "nearest"), m)
    if has_spatial_3d(settings):
        x, m = spatial_3d(x, m, settings, generator)
    if settings.intensity_jitter > 0:
        j = settings.intensity_jitter
        x = x * uniform(1 - j, 1 + j) + uniform(-j, j) * x.std().clamp(min=1e-6)
    if settings.gaussian_noise > 0:
        x = gaussian_noise(x, settings.gaussian_noise, generator)
    return x, m


def _as_planes(mask: torch.Tensor) -> torch.Tensor:
    return mask.unsqueeze(0).float()


def _as_mask(planes: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return planes.squeeze(0).round().to(like.dtype)


def _planes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """(N, C', H, W) view of an image or volume, to transform every slice the same way."""
    return x.reshape(1, -1, x.shape[-2], x.shape[-1]), x.shape


def _rotate(x: torch.Tensor, angle: float, mode: str = "bilinear") -> torch.Tensor:
    planes, shape = _planes(x)
    cos, sin = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[[cos, -sin, 0.0], [sin, cos, 0.0]]], dtype=planes.dtype)
    grid = F.affine_grid(theta, list(planes.shape), align_corners=False)
    return F.grid_sample(planes, grid, mode=mode, align_corners=False, padding_mode="border").reshape(shape)


def _crop_box(x: torch.Tensor, scale: float, generator: torch.Generator) -> tuple[int, int, int, int]:
    height, width = x.shape[-2:]
    ch, cw = max(1, int(height * scale)), max(1, int(width * scale))
    top = int(torch.randint(0, height - ch + 1, (), generator=generator))
    left = int(torch.randint(0, width - cw + 1, (), generator=generator))
    return top, left, ch, cw


def _crop(x: torch.Tensor, box: tuple[int, int, int, int], mode: str = "bilinear") -> torch.Tensor:
    planes, shape = _planes(x)
    top, left, ch, cw = box
    cropped = planes[..., top : top + ch, left : left + cw]
    size = (planes.shape[-2], planes.shape[-1])
    if mode == "nearest":  # "nearest-exact" samples pixel centres, as the bilinear path does
        return F.interpolate(cropped, size=size, mode="nearest-exact").reshape(shape)
    return F.interpolate(cropped, size=size, mode="bilinear", align_corners=False).reshape(shape)
