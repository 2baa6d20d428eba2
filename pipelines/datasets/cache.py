"""The preprocessed cache: plain ``.npy`` arrays read memory-mapped, plus ``recipe.json``.

Layout of a version's cache folder::

    inputs.npy   (N, ...) uint8 images, int16 CT in HU, float32 table rows or int32 token ids
    masks.npy    (N, H, W) uint8 (or int16) class indices: segmentation only, the loader's target
    targets.npy  (N,) int64 class index, or float32 for regression (segmentation: the rarest
                 class of each mask, which the splits were stratified by)
    splits.npy   (N,) int8: 0 train, 1 validation, 2 test
    recipe.json  how the inputs were made (travels with every model trained on them)

Nothing here is ever unpickled: arrays are loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_CODE = {name: i for i, name in enumerate(SPLITS)}
BLOCK = 256


class CacheWriter:
    """Writes samples one by one into a memory-mapped ``{name}.npy`` without holding them all."""

    def __init__(self, folder: Path, capacity: int, sample_shape: tuple[int, ...], dtype: Any,
                 name: str = "inputs") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.name = name
        self.sample_shape = sample_shape
        self.dtype = np.dtype(dtype)
        self.count = 0
        self._path = folder / f"{name}.partial.npy"
        self._array = np.lib.format.open_memmap(
            self._path, mode="w+", dtype=self.dtype, shape=(max(capacity, 1), *sample_shape)
        )

    def append(self, sample: np.ndarray) -> int:
        if sample.shape != self.sample_shape:
            raise ValueError(f"sample shape {sample.shape} is not {self.sample_shape}")
        self._array[self.count] = sample
        self.count += 1
        return self.count - 1

    def close(self) -> Path:
        """Flush, shrink to the samples written, and return the path of ``{name}.npy``."""
        final = self.folder / f"{self.name}.npy"
        self._array.flush()
        if self.count == len(self._array):
            del self._array
            self._path.replace(final)
            return final
        out = np.lib.format.open_memmap(final, mode="w+", dtype=self.dtype, shape=(self.count, *self.sample_shape))
        for start in range(0, self.count, BLOCK):
            end = min(start + BLOCK, self.count)
            out[start:end] = self._array[start:end]
        out.flush()
        del out, self._array
        self._path.unlink()
        return final


def save_array(folder: Path, name: str, array: np.ndarray) -> None:
    np.save(folder / f"{name}.npy", array, allow_pickle=False)


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True))


def open_inputs(folder: Path) -> np.ndarray:
    return np.load(folder / "inputs.npy", mmap_mode="r", allow_pickle=False)


def open_masks(folder: Path) -> np.ndarray:
    return np.load(folder / "masks.npy", mmap_mode="r", allow_pickle=False)


def load_small(folder: Path, name: str) -> np.ndarray:
    return np.load(folder / f"{name}.npy", allow_pickle=False)


def read_recipe(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "recipe.json").read_text())
