from __future__ import annotations

import pytest
import torch

from pipelines.training import metrics


def test_classification_metrics_on_a_known_case() -> None:
    targets = torch.tensor([0, 0, 1, 1, 2, 2])
    logits = torch.eye(3)[torch.tensor([0, 1, 1, 1, 2, 0])] * 5
    found = metrics.classification(logits, targets, 3)
    assert found["accuracy"] == pytest.approx(4 / 6)
    assert found["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert found["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert found["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert 0.0 < found["roc_auc_macro"] <= 1.0


def test_roc_auc_is_one_for_a_perfect_ranking_and_half_for_ties() -> None:
    targets = torch.tensor([0, 0, 1, 1])
    perfect = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert metrics.roc_auc_ovr(perfect, targets, 2) == pytest.approx(1.0)
    assert metrics.roc_auc_ovr(torch.full((4, 2), 0.5), targets, 2) == pytest.approx(0.5)


def test_regression_and_segmentation_metrics() -> None:
    assert metrics.regression(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])) == {"mae": 1.0, "rmse": pytest.approx(2 ** 0.5)}
    targets = torch.tensor([[[0, 1], [1, 1]]])
    logits = torch.nn.functional.one_hot(torch.tensor([[[0, 1], [0, 1]]]), 2).permute(0, 3, 1, 2).float()
    found = metrics.segmentation(logits, targets, 2)
    assert found["pixel_accuracy"] == 0.75
    assert found["iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert found["dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)
