"""The training side of the cache: a ``torch.utils.data.Dataset`` over the memory-mapped arrays,
with the recorded window (CT) and the dataset's augmentation applied. Segmentation samples are
``(image, mask)``: the mask (int64 class ids, (H, W)) goes through the same flips, rotation and crop.

The augmentation draws come from the dataset's own generator, reseeded by ``set_epoch`` from
``(seed, epoch)``: an epoch's augmentations depend on nothing drawn before it, so a run resumed at
an epoch's start augments exactly as an uninterrupted one (the sampler's order works the same way)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .augment import AugmentationSettings, augment, augment_pair
from .cache import SPLIT_CODE, load_small, open_inputs, open_masks, read_recipe
from .options import Window


def epoch_seed(seed: int, epoch: int) -> int:
    """A 64-bit seed for ``epoch`` of a stream seeded ``seed``: NumPy's ``SeedSequence`` mixes the
    two, so neighbouring seeds and epochs give unrelated streams."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0])


class CachedDataset(torch.utils.data.Dataset):
    """Samples of one split as ``(input, target)`` tensors, read from the memory-mapped cache;
    for segmentation the target is the sample's mask."""

    def __init__(self, cache: Path, split: str | None = None,
                 augmentation: AugmentationSettings | dict[str, Any] | None = None, seed: int = 0) -> None:
        self.recipe = read_recipe(cache)
        self.inputs = open_inputs(cache)
        self._targets = load_small(cache, "targets")
        self.targets = torch.from_numpy(self._targets)
        self.masks = open_masks(cache) if self.recipe.get("target") == "mask" else None
        splits = load_small(cache, "splits")
        self.indices = (np.arange(len(splits)) if split is None
                        else np.flatnonzero(splits == SPLIT_CODE[split]))
        self.window = Window.from_recipe(self.recipe["window"]) if self.recipe["input"] == "ct" else None
        if isinstance(augmentation, dict):
            augmentation = AugmentationSettings.model_validate(augmentation)
        dense = self.recipe["input"] in ("image", "ct")
        self.augmentation = augmentation if dense and augmentation and not augmentation.is_identity else None
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation generator for ``epoch`` (see the module's docstring)."""
        self.generator.manual_seed(epoch_seed(self.seed, epoch))

    def __len__(self) -> int:
        return len(self.indices)

    def _convert(self, array: np.ndarray) -> torch.Tensor:
        # NumPy widens in one single-threaded pass; torch's element-wise kernels spin up worker
        # threads that cost more than the work on small batches.
        if self.recipe["input"] == "text":
            return torch.from_numpy(np.asarray(array, dtype=np.int64))
        if array.dtype == np.uint8:
            return torch.from_numpy(np.multiply(array, np.float32(1 / 255), dtype=np.float32))
        values = np.asarray(array, dtype=np.float32)
        if self.window is not None:
            low, high = self.window.bounds()
            values = np.clip((values - np.float32(low)) * np.float32(1 / (high - low)), 0.0, 1.0, dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(values))

    def __getitem__(self, index: int | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, list):  # a whole batch, from ``loader()``
            return self._batch(index)
        row = int(self.indices[index])
        return self._augmented(self._convert(self.inputs[row]), row)

    def _target(self, rows: Any) -> torch.Tensor:
        if self.masks is None:
            return torch.from_numpy(np.asarray(self._targets[rows]))
        return torch.from_numpy(np.asarray(self.masks[rows], dtype=np.int64))

    def _augmented(self, x: torch.Tensor, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.masks is None:
            return (x if self.augmentation is None else augment(x, self.augmentation, self.generator)), self.targets[row]
        mask = self._target(row)
        if self.augmentation is not None:
            x, augmented = augment_pair(x, mask, self.augmentation, self.generator)
            mask = augmented if augmented is not None else mask
        return x, mask

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # One sorted read of the memory map per batch instead of one per sample.
        rows = self.indices[np.asarray(indices, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")
        block = self._convert(self.inputs[rows[order]])
        result: list[tuple[torch.Tensor, torch.Tensor]] = [None] * len(rows)  # type: ignore[list-item]
        for position, source in enumerate(order):
            result[int(source)] = self._augmented(block[position], int(rows[source]))
        return result

    def _batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.indices[np.asarray(indices, dtype=np.int64)]
        x = self._convert(self.inputs[rows])
        y = self._target(rows)
        if self.augmentation is None:
            return x, y
        for i in range(len(x)):
            if self.masks is None:
                x[i] = augment(x[i], self.augmentation, self.generator)
            else:
                x[i], y[i] = augment_pair(x[i], y[i], self.augmentation, self.generator)  # type: ignore[assignment]
        return x, y

    def loader(self, batch_size: int, *, shuffle: bool = False, drop_last: bool = False,
               **kwargs: Any) -> torch.utils.data.DataLoader:
        """A DataLoader that reads each batch with one sorted slice of the memory map and no
        per-sample collation (the sampler hands whole index lists to ``__getitem__``)."""
        base = torch.utils.data.RandomSampler(self) if shuffle else torch.utils.data.SequentialSampler(self)
        batches = torch.utils.data.BatchSampler(base, batch_size, drop_last)
        return torch.utils.data.DataLoader(self, batch_size=None, sampler=batches, **kwargs)
