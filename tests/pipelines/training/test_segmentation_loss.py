"""The segmentation losses computed on a tiny batch and checked against values worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch

from pipelines.training.optim import build_loss

THIRD = math.log(3.0)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two volumes of four voxels, classes (background, lesion). Lesion probabilities: volume A
    0.75, 0.5, 0.25, 0.25 (lesion at the first two voxels); volume B 0.25 everywhere, no lesion."""
    lesion_logit = {0.75: (0.0, THIRD), 0.5: (0.0, 0.0), 0.25: (THIRD, 0.0)}
    a = [lesion_logit[p] for p in (0.75, 0.5, 0.25, 0.25)]
    b = [lesion_logit[0.25]] * 4
    logits = torch.tensor([a, b]).transpose(1, 2)  # (N, C, voxels)
    return logits, torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])


def test_dice_is_the_lesion_class_pooled_over_the_batch() -> None:
    logits, targets = batch()
    # overlap 0.75 + 0.5 = 1.25; predicted 1.75 + 1.0 = 2.75; true 2: 1 - (2.5 + 1) / (4.75 + 1)
    assert build_loss("dice")(logits, targets).item() == pytest.approx(1 - 3.5 / 5.75, abs=1e-6)
    # a batch without lesions: 1 - 1 / (predicted + 1), predicted 4 x 0.25
    assert build_loss("dice")(logits[1:], targets[1:]).item() == pytest.approx(0.5, abs=1e-6)


def test_dice_cross_entropy_adds_the_mean_voxel_cross_entropy() -> None:
    logits, targets = batch()
    cross_entropy = (7 * math.log(4 / 3) + math.log(2)) / 8  # seven voxels at p = 0.75, one at 0.5
    assert build_loss("dice_cross_entropy")(logits, targets).item() == pytest.approx(
        1 - 3.5 / 5.75 + cross_entropy, abs=1e-6)
