"""3-D augmentation of volumes ``(C, D, H, W)`` with MONAI's transforms, and Gaussian noise for
images and volumes alike.

Every draw comes from the caller's ``torch.Generator``: each transform gets one seed drawn from it
(``set_random_state``), so a sample's augmentation depends only on the generator's state, which the
loader reseeds from ``(seed, epoch)``; a resumed run draws what an uninterrupted one draws.

- Affine: ``RandAffine`` rotates about each of the three axes by an angle in [-r, r] and zooms each
  axis by a factor in [1 - s, 1 + s], in voxel space, about the volume's centre.
- Elastic: ``Rand3DElastic`` moves voxels along a smooth random field (uniform noise smoothed by a
  Gaussian of ``elastic_3d_sigma`` voxels); its magnitude is set so that the field's root mean
  square per axis is ``elastic_3d`` voxels away from the borders. With the affine on as well, the
  one transform does both, so the volume is resampled once.
- Noise: ``RandGaussianNoise`` adds noise of standard deviation ``gaussian_noise`` times the
  sample's own.

A mask goes through the same draw: the dictionary transforms (``RandAffined``, ``Rand3DElasticd``)
build one sampling grid and resample the image bilinear and the mask nearest on it, so the mask
keeps class ids. (The array ``Rand3DElastic`` called again with ``randomize=False`` would not do:
in MONAI 1.6.1 its affine part draws new parameters on every call.) Outside the volume both are
padded with their border values, as the in-plane rotation does. MONAI is imported when a
transform is first used: the API process validates settings without it.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .augment import AugmentationSettings

# Fields that only apply to volumes.
VOLUME_FIELDS = ("rotate_3d_degrees", "scale_3d", "elastic_3d", "elastic_3d_sigma")
_SEEDS = 2**32  # NumPy's RandomState (MONAI's ``R``) takes seeds below this
_TRUNCATED = 3.0  # Rand3DElastic smooths with GaussianFilter(3, sigma, truncated=3.0)


def volume_fields_set(settings: AugmentationSettings) -> list[str]:
    """The volume-only fields of ``settings`` that differ from their defaults."""
    fields = type(settings).model_fields
    return [name for name in VOLUME_FIELDS if getattr(settings, name) != fields[name].default]


def has_spatial_3d(settings: AugmentationSettings) -> bool:
    return settings.rotate_3d_degrees > 0 or settings.scale_3d > 0 or settings.elastic_3d > 0


def spatial_3d(sample: torch.Tensor, mask: torch.Tensor | None, settings: AugmentationSettings,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``sample`` (C, D, H, W) and ``mask`` (D, H, W) under one random 3-D affine and/or elastic
    deformation. Draws one seed from ``generator``."""
    seed = _seed(generator)
    data = {"image": sample} if mask is None else {"image": sample, "mask": mask.unsqueeze(0).float()}
    transform = _spatial_transform(settings, tuple(data))
    transform.set_random_state(seed=seed)
    out = transform(data)  # the dictionary transform builds one grid and resamples every key on it
    x = _plain(out["image"]).to(sample.dtype)
    if mask is None:
        return x, None
    return x, _plain(out["mask"]).squeeze(0).round().to(mask.dtype)


def gaussian_noise(sample: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """``sample`` plus Gaussian noise of standard deviation ``fraction`` times the sample's.
    Draws one seed from ``generator`` (also for a constant sample, which gets no noise)."""
    from monai.transforms import RandGaussianNoise

    seed = _seed(generator)
    std = float(sample.std()) * fraction if sample.numel() > 1 else 0.0
    if not std > 0:
        return sample
    transform = RandGaussianNoise(prob=1.0, mean=0.0, std=std, sample_std=False)
    transform.set_random_state(seed=seed)
    return _plain(transform(sample)).to(sample.dtype)


def elastic_magnitude(voxels: float, sigma: float) -> float:
    """Rand3DElastic's magnitude for a displacement of ``voxels`` root mean square per axis: the
    offsets are uniform in [-1, 1] (variance 1/3), smoothed by a separable Gaussian kernel ``k``,
    so away from the borders their standard deviation is sqrt(1/3) * (sum k^2)^(3/2)."""
    return voxels / _smoothed_std(float(sigma))


@lru_cache(maxsize=32)
def _smoothed_std(sigma: float) -> float:
    from monai.networks.layers.convutils import gaussian_1d

    kernel = gaussian_1d(torch.tensor(sigma), truncated=_TRUNCATED, approx="erf")
    return math.sqrt(1 / 3) * float((kernel.double() ** 2).sum()) ** 1.5


def _spatial_transform(settings: AugmentationSettings, keys: tuple[str, ...]) -> Any:
    from monai.transforms import Rand3DElasticd, RandAffined

    modes = ("bilinear", "nearest")[: len(keys)]  # the image, then the mask
    ranges: dict[str, Any] = {
        "rotate_range": (math.radians(settings.rotate_3d_degrees),) * 3 if settings.rotate_3d_degrees > 0 else None,
        "scale_range": (settings.scale_3d,) * 3 if settings.scale_3d > 0 else None,
    }
    if settings.elastic_3d > 0:
        magnitude = elastic_magnitude(settings.elastic_3d, settings.elastic_3d_sigma)
        sigma = settings.elastic_3d_sigma
        return Rand3DElasticd(keys, sigma_range=(sigma, sigma), magnitude_range=(magnitude, magnitude), prob=1.0,
                              mode=modes, padding_mode="border", **ranges)
    return RandAffined(keys, prob=1.0, mode=modes, padding_mode="border", **ranges)


def _seed(generator: torch.Generator) -> int:
    return int(torch.randint(0, _SEEDS, (), generator=generator, dtype=torch.int64))


def _plain(tensor: Any) -> torch.Tensor:
    """A plain tensor from MONAI's MetaTensor (no metadata travels into batches)."""
    as_tensor = getattr(tensor, "as_tensor", None)
    return as_tensor() if callable(as_tensor) else torch.as_tensor(tensor)
