"""Seeded, stratified train/validation/test splits that never put one group in two splits.

A group is what must stay together: a patient for medical data, a document for chunked text,
otherwise the sample itself. Groups are stratified by their most common label.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

from .cache import SPLIT_CODE


def quantile_bins(values: Sequence[float], bins: int = 5) -> list[int]:
    """Regression targets as quantile bins, so splits can be stratified by them too."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) == 0:
        return []
    edges = np.quantile(array, np.linspace(0, 1, bins + 1)[1:-1])
    return [int(b) for b in np.searchsorted(edges, array, side="right")]


def grouped_stratified_split(
    labels: Sequence[Hashable],
    groups: Sequence[Hashable],
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: bool = True,
) -> np.ndarray:
    """One split code per sample (0 train, 1 val, 2 test). Deterministic for a given seed.

    ``stratify=False`` draws the groups at random from one pool instead of per label."""
    if len(labels) != len(groups):
        raise ValueError("labels and groups must have the same length")
    members: dict[Hashable, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    by_label: dict[str, list[Hashable]] = defaultdict(list)
    for group, indices in members.items():
        counts = Counter(str(labels[i]) for i in indices)
        top = max(sorted(counts), key=lambda k: counts[k]) if stratify else ""
        by_label[top].append(group)
    rng = np.random.default_rng(seed)
    codes = np.zeros(len(labels), dtype=np.int8)
    for label in sorted(by_label):
        bucket = sorted(by_label[label], key=str)
        order = rng.permutation(len(bucket))
        n = len(bucket)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        if n_test + n_val >= n:  # keep at least one group for training
            n_test, n_val = min(n_test, max(n - 1, 0)), max(0, min(n_val, n - 1 - min(n_test, n - 1)))
        for rank, position in enumerate(order):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            for index in members[bucket[position]]:
                codes[index] = SPLIT_CODE[split]
    return codes


MIN_GROUPS = 10  # below this, a split of the usual fractions leaves validation or test empty or tiny


def split_sizes(codes: np.ndarray, groups: Sequence[Hashable]) -> dict[str, dict[str, int]]:
    """Per split, how many samples and how many distinct groups it holds."""
    sizes = {}
    for name, code in SPLIT_CODE.items():
        chosen = np.flatnonzero(codes == code)
        sizes[name] = {"samples": len(chosen), "groups": len({groups[int(i)] for i in chosen})}
    return sizes


def split_advice(sizes: dict[str, dict[str, int]], grouped_by: str) -> list[dict[str, str]]:
    """Warnings about a split before anyone trains on it: an empty split, too few groups."""
    unit = f"{grouped_by}s" if grouped_by in ("patient", "document") else "groups"
    total = sum(s["groups"] for s in sizes.values())
    advice = []
    names = {"train": "training", "val": "validation", "test": "test"}
    for name, size in sizes.items():
        if size["samples"] == 0:
            fraction = "val_fraction" if name == "val" else "test_fraction" if name == "test" else "train fraction"
            advice.append({"code": f"empty_{name}_split", "split": name,
                           "message": f"the {names[name]} split would get no {unit} ({total} in all): "
                                      f"raise {fraction} or add more {unit}"})
    if total < MIN_GROUPS:
        advice.append({"code": "small_dataset", "split": "",
                       "message": f"only {total} {unit}: with fewer than {MIN_GROUPS}, validation and test "
                                  "metrics say little (one patient more or less changes them by a lot); "
                                  f"add {unit} for figures you can trust"})
    return advice
