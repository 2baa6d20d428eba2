"""Statistics over a finished cache: class counts per split, shapes, intensity histograms, and
which samples to show as thumbnails."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .cache import BLOCK, SPLITS, open_inputs, open_masks

HISTOGRAM_SAMPLES = 512
THUMBNAILS_PER_CLASS = 4


def compute_stats(cache: Path, labels: list[str], splits: np.ndarray, recipe: dict[str, Any],
                  extra: dict[str, Any]) -> dict[str, Any]:
    inputs = open_inputs(cache)
    stats: dict[str, Any] = {
        "samples": int(len(inputs)),
        "sample_shape": list(inputs.shape[1:]),
        "dtype": str(inputs.dtype),
        "cache_bytes": sum(f.stat().st_size for f in cache.iterdir() if f.is_file()),
        "split_counts": {name: int((splits == code).sum()) for code, name in enumerate(SPLITS)},
        **extra,
    }
    if recipe.get("task") == "classification":
        stats["class_counts"] = {
            name: dict(sorted(Counter(lab for lab, s in zip(labels, splits, strict=True) if s == code).items()))
            for code, name in enumerate(SPLITS)
        }
        stats["class_totals"] = dict(sorted(Counter(labels).items()))
        stats["thumbnails"] = _thumbnails(labels)
    if recipe.get("target") == "mask":
        stats.update(_pixel_shares(cache, splits, recipe["class_map"]["names"]))
    if recipe["input"] == "image":
        stats["channels"] = recipe["channels"]
        stats["intensity_histogram"] = _image_histogram(inputs)
    return stats


def _pixel_shares(cache: Path, splits: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Share of pixels of each class, overall and per split, and how many samples of each split
    hold any pixel of each class (patients with a lesion), counted block by block."""
    masks = open_masks(cache)
    counts = np.zeros((len(SPLITS), len(classes)), dtype=np.int64)
    present = np.zeros((len(SPLITS), len(classes)), dtype=np.int64)
    for start in range(0, len(masks), BLOCK):
        block = np.asarray(masks[start : start + BLOCK], dtype=np.int64)
        codes = splits[start : start + BLOCK].astype(np.int64)
        keys = (codes.reshape(-1, *[1] * (block.ndim - 1)) * len(classes) + block).reshape(-1)  # 2-D and 3-D masks
        counts += np.bincount(keys, minlength=counts.size).reshape(counts.shape)
        for code, mask in zip(codes, block, strict=True):
            present[code, np.unique(mask)] += 1

    def shares(row: np.ndarray) -> dict[str, float]:
        total = max(int(row.sum()), 1)
        return {name: round(int(n) / total, 6) for name, n in zip(classes, row, strict=True)}

    return {"pixel_share": shares(counts.sum(axis=0)),
            "pixel_share_per_split": {name: shares(counts[code]) for code, name in enumerate(SPLITS)},
            "pixel_counts": {name: int(n) for name, n in zip(classes, counts.sum(axis=0), strict=True)},
            "samples_with_class_per_split": {split: {name: int(n) for name, n in zip(classes, present[code], strict=True)}
                                             for code, split in enumerate(SPLITS)}}


def _thumbnails(labels: list[str]) -> dict[str, list[int]]:
    picked: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        chosen = picked.setdefault(label, [])
        if len(chosen) < THUMBNAILS_PER_CLASS:
            chosen.append(index)
    return dict(sorted(picked.items()))


def _image_histogram(inputs: np.ndarray) -> dict[str, Any]:
    step = max(1, len(inputs) // HISTOGRAM_SAMPLES)
    sample = np.asarray(inputs[::step], dtype=np.float32) / (255.0 if inputs.dtype == np.uint8 else 1.0)
    edges = np.linspace(0.0, 1.0, 33)
    per_channel = [np.histogram(sample[:, c], bins=edges)[0].tolist() for c in range(sample.shape[1])]
    return {"edges": edges.round(5).tolist(), "counts_per_channel": per_channel}
