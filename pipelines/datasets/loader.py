"""The training side of the cache: a ``torch.utils.data.Dataset`` over the memory-mapped arrays,
with the recorded window (CT) and the dataset's augmentation applied."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .augment import AugmentationSettings, augment
from .cache import SPLIT_CODE, load_small, open_inputs, read_recipe
from .options import Window


class CachedDataset(torch.utils.data.Dataset):
    """Samples of one split as ``(input, target)`` tensors, read from the memory-mapped cache."""

    def __init__(self, cache: Path, split: str | None = None,
                 augmentation: AugmentationSettings | dict[str, Any] | None = None, seed: int = 0) -> None:
        self.recipe = read_recipe(cache)
        self.inputs = open_inputs(cache)
        self._targets = load_small(cache, "targets")
        self.targets = torch.from_numpy(self._targets)
        splits = load_small(cache, "splits")
        self.indices = (np.arange(len(splits)) if split is None
                        else np.flatnonzero(splits == SPLIT_CODE[split]))
        self.window = Window.from_recipe(self.recipe["window"]) if self.recipe["input"] == "ct" else None
        if isinstance(augmentation, dict):
            augmentation = AugmentationSettings.model_validate(augmentation)
        dense = self.recipe["input"] in ("image", "ct")
        self.augmentation = augmentation if dense and augmentation and not augmentation.is_identity else None
        self.generator = torch.Generator().manual_seed(seed)

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
        x = self._convert(self.inputs[row])
        if self.augmentation is not None:
            x = augment(x, self.augmentation, self.generator)
        return x, self.targets[row]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # One sorted read of the memory map per batch instead of one per sample.
        rows = self.indices[np.asarray(indices, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")
        block = self._convert(self.inputs[rows[order]])
        result: list[tuple[torch.Tensor, torch.Tensor]] = [None] * len(rows)  # type: ignore[list-item]
        for position, source in enumerate(order):
            x = block[position]
            if self.augmentation is not None:
                x = augment(x, self.augmentation, self.generator)
            result[int(source)] = (x, self.targets[int(rows[source])])
        return result

    def _batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.indices[np.asarray(indices, dtype=np.int64)]
        x = self._convert(self.inputs[rows])
        if self.augmentation is not None:
            for i in range(len(x)):
                x[i] = augment(x[i], self.augmentation, self.generator)
        return x, torch.from_numpy(self._targets[rows])

    def loader(self, batch_size: int, *, shuffle: bool = False, drop_last: bool = False,
               **kwargs: Any) -> torch.utils.data.DataLoader:
        """A DataLoader that reads each batch with one sorted slice of the memory map and no
        per-sample collation (the sampler hands whole index lists to ``__getitem__``)."""
        base = torch.utils.data.RandomSampler(self) if shuffle else torch.utils.data.SequentialSampler(self)
        batches = torch.utils.data.BatchSampler(base, batch_size, drop_last)
        return torch.utils.data.DataLoader(self, batch_size=None, sampler=batches, **kwargs)
