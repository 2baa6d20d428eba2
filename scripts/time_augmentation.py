"""Time per sample of each augmentation step on one volume, in one torch thread, for the MONAI
decision table in docs/guides/datasets.md:

    .venv/bin/python scripts/time_augmentation.py [--shape 32 64 64] [--repeats 30]

Prints the median and the 10th-90th percentile of ``augment`` (image only) and ``augment_pair``
(image and mask) per setting, and MONAI's import time once per process."""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.datasets.augment import AugmentationSettings, augment, augment_pair  # noqa: E402

SETTINGS = {
    "hand-written: rotate_degrees 15 (in-plane)": {"rotate_degrees": 15.0},
    "hand-written: flips + crop_scale 0.8": {"flip_horizontal": True, "flip_depth": True, "crop_scale": 0.8},
    "RandAffine: rotate_3d_degrees 15, scale_3d 0.1": {"rotate_3d_degrees": 15.0, "scale_3d": 0.1},
    "Rand3DElastic: elastic_3d 2, sigma 6": {"elastic_3d": 2.0},
    "Rand3DElastic with the affine: all three": {"rotate_3d_degrees": 15.0, "scale_3d": 0.1, "elastic_3d": 2.0},
    "RandGaussianNoise: gaussian_noise 0.1": {"gaussian_noise": 0.1},
}


def _times(run: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=[32, 64, 64], metavar=("D", "H", "W"))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    import monai.transforms  # noqa: F401

    print(f"import monai.transforms: {time.perf_counter() - start:.1f} s")
    image = torch.rand(1, *args.shape)
    mask = (image[0] > 0.5).long()
    print(f"volume (1, {', '.join(map(str, args.shape))}), torch {torch.__version__}, 1 thread; ms per sample, "
          "median [p10-p90]")
    for name, values in SETTINGS.items():
        settings = AugmentationSettings.model_validate(values)
        generator = torch.Generator().manual_seed(0)
        augment(image, settings, generator)  # warm-up
        _row(name, "image", sorted(_times(partial(augment, image, settings, generator), args.repeats)))
        _row(name, "image+mask", sorted(_times(partial(augment_pair, image, mask, settings, generator), args.repeats)))
    # For comparison: MONAI's own in-plane rotation, what would replace the hand-written one.
    from monai.transforms import RandRotate

    rotate = RandRotate(range_x=math.radians(15.0), prob=1.0, padding_mode="border")
    rotate.set_random_state(seed=0)
    _row("(MONAI RandRotate 15, in-plane, not used)", "image", sorted(_times(lambda: rotate(image), args.repeats)))


def _row(name: str, label: str, t: list[float]) -> None:
    p10, p90 = t[len(t) // 10], t[(len(t) * 9) // 10]
    print(f"  {name:<50} {label:<10} {statistics.median(t):7.1f}  [{p10:.1f}-{p90:.1f}]")


if __name__ == "__main__":
    main()
