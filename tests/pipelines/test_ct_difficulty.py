"""The CT difficulty bench's cheater: one threshold on one feature (bench/ct_difficulty.py)."""
from __future__ import annotations

import numpy as np

from bench.ct_difficulty import best_threshold, count_threshold


def test_best_threshold_does_not_split_tied_values() -> None:
    # Many patients share a value (no voxel in a band: 0): a threshold puts them all on one side,
    # whatever order they were ingested in (normal patients first, as the bench's cache orders them).
    values = np.array([0.0, 0.0, 0.0, 0.0, 0.2, 0.3])
    labels = np.array([0, 0, 1, 1, 1, 1])
    accuracy, _ = best_threshold(values, labels)
    assert accuracy == 4 / 6
    reordered = np.array([2, 3, 0, 1, 4, 5])
    assert best_threshold(values[reordered], labels[reordered])[0] == 4 / 6


def test_best_threshold_finds_either_direction_and_a_threshold_between_values() -> None:
    values = np.array([0.0, 1.0, 2.0, 3.0])
    assert best_threshold(values, np.array([0, 0, 1, 1])) == (1.0, 1.5)
    assert best_threshold(values, np.array([1, 1, 0, 0])) == (1.0, 1.5)
    assert best_threshold(np.zeros(4), np.array([0, 0, 1, 1]))[0] == 0.5


def test_count_threshold_takes_the_smallest_count_with_the_best_validation_accuracy() -> None:
    # A normal patient with 3 predicted lesion voxels: t = 1 and t = 5 both call 5 of 6 right.
    assert count_threshold(np.array([0, 0, 3, 1, 5, 8]), np.array([0, 0, 0, 1, 1, 1])) == (1, 5 / 6)
    # Normal patients with 2 voxels each: only t above them separates the classes.
    assert count_threshold(np.array([0, 2, 2, 6, 7]), np.array([0, 0, 0, 1, 1])) == (6, 1.0)
    # Nothing predicted anywhere: every patient is called normal.
    assert count_threshold(np.zeros(4, dtype=int), np.array([0, 0, 0, 1])) == (1, 0.75)
