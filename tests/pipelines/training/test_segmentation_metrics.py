"""Dice and IoU per class on volumes with known, partial overlaps (counted by hand below)."""
from __future__ import annotations

import pytest
import torch

from pipelines.training import metrics


def _logits(labels: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, classes).movedim(-1, 1).float()


def test_per_class_dice_and_iou_on_two_volumes() -> None:
    # Two 1x4x4 volumes. Class 1 ("lesion"): 6 voxels labelled, 5 predicted, 4 shared.
    # Class 2: labelled 2 voxels, never predicted. Class 3: absent from both: unscored.
    target = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    predicted = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    target[0, 0, 0, :3] = 1                 # 3 lesion voxels in volume 0
    target[1, 0, 2, 1:4] = 1                # 3 in volume 1
    target[1, 0, 3, :2] = 2                 # 2 voxels of class 2
    predicted[0, 0, 0, 1:3] = 1             # 2 hits in volume 0
    predicted[1, 0, 2, 2:4] = 1             # 2 hits in volume 1
    predicted[1, 0, 0, 0] = 1               # 1 false positive
    found = metrics.segmentation(_logits(predicted, 4), target, 4)
    # class 1: overlap 4, predicted 5, labelled 6 -> Dice 8/11, IoU 4/7
    assert found["dice_per_class"][1] == pytest.approx(8 / 11)
    assert found["iou_per_class"][1] == pytest.approx(4 / 7)
    # class 0: labelled 32-6-2 = 24, predicted 32-5 = 27, overlap: 24 minus the 1 false positive -> 23
    assert found["dice_per_class"][0] == pytest.approx(46 / 51)
    assert found["iou_per_class"][0] == pytest.approx(23 / 28)
    assert found["dice_per_class"][2] == 0.0 and found["iou_per_class"][2] == 0.0
    assert found["dice_per_class"][3] is None and found["iou_per_class"][3] is None
    assert found["dice"] == pytest.approx((46 / 51 + 8 / 11 + 0.0) / 3)
    assert found["iou"] == pytest.approx((23 / 28 + 4 / 7 + 0.0) / 3)
    assert found["pixel_accuracy"] == pytest.approx((23 + 4) / 32)


def test_dice_relates_to_iou_and_per_class_lists_stay_out_of_the_history() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 3, (3, 4, 6, 6), generator=generator)
    logits = torch.randn(3, 3, 4, 6, 6, generator=generator) + 2 * _logits(target, 3)
    found = metrics.segmentation(logits, target, 3)
    for dice, iou in zip(found["dice_per_class"], found["iou_per_class"], strict=True):
        assert dice == pytest.approx(2 * iou / (1 + iou))  # Dice = 2J / (1 + J) for every class
        assert 0 < iou < dice < 1
    assert set(metrics.scalars(found)) == {"pixel_accuracy", "dice", "iou"}
