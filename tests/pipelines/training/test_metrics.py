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
    # A constant target has no variance to explain: R² is undefined (None), not a division by zero.
    assert metrics.regression(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 1.0])) == {
        "mae": 1.0, "rmse": pytest.approx(2 ** 0.5), "r2": None}
    targets = torch.tensor([[[0, 1], [1, 1]]])
    logits = torch.nn.functional.one_hot(torch.tensor([[[0, 1], [0, 1]]]), 2).permute(0, 3, 1, 2).float()
    found = metrics.segmentation(logits, targets, 2)
    assert found["pixel_accuracy"] == 0.75
    assert found["iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert found["dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)


def _fixed_scores(n: int = 40, classes: int = 3, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities with ties (rounded to two places) that mostly, not always, favour the true class."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % classes
    logits = torch.randn(n, classes, generator=generator) + 1.5 * torch.eye(classes)[targets]
    return torch.softmax(logits, 1).mul(100).round().div(100), targets


def test_roc_points_are_sklearns_curve_per_class_and_micro() -> None:
    from sklearn.metrics import auc, roc_curve

    probabilities, targets = _fixed_scores()
    found = metrics.roc_curves(probabilities, targets, 3, max_points=1000)
    onehot = torch.nn.functional.one_hot(targets, 3).numpy()
    cases = [(found["classes"][c], onehot[:, c], probabilities[:, c].numpy()) for c in range(3)]
    cases.append((found["micro"], onehot.ravel(), probabilities.numpy().ravel()))
    for curve, truth, scores in cases:
        fpr, tpr, _ = roc_curve(truth, scores)  # drop_intermediate=True: the corners only
        assert curve["fpr"] == pytest.approx(fpr.tolist(), abs=1e-4)
        assert curve["tpr"] == pytest.approx(tpr.tolist(), abs=1e-4)
        assert curve["auc"] == pytest.approx(auc(fpr, tpr))
    assert [c["auc"] for c in found["classes"]] == pytest.approx(
        [float(v) for v in _per_class_auc(probabilities, targets)], abs=1e-6)


def _per_class_auc(probabilities: torch.Tensor, targets: torch.Tensor) -> list[float]:
    from sklearn.metrics import roc_auc_score

    return [roc_auc_score((targets == c).numpy(), probabilities[:, c].numpy()) for c in range(probabilities.shape[1])]


def test_a_long_roc_curve_is_thinned_to_its_own_corners() -> None:
    from sklearn.metrics import roc_curve

    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 2, (2000,), generator=generator)
    logits = torch.randn(2000, 2, generator=generator) + torch.eye(2)[targets]
    probabilities = torch.softmax(logits, 1)
    curve = metrics.roc_curves(probabilities, targets, 2)["classes"][1]
    fpr, tpr, _ = roc_curve(targets.numpy(), probabilities[:, 1].numpy())
    assert len(fpr) > 200 and len(curve["fpr"]) <= metrics.ROC_POINTS
    corners = {(round(a, 4), round(b, 4)) for a, b in zip(fpr.tolist(), tpr.tolist(), strict=True)}
    assert set(zip(curve["fpr"], curve["tpr"], strict=True)) <= corners
    assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0) and (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    assert curve["fpr"] == sorted(curve["fpr"]) and curve["tpr"] == sorted(curve["tpr"])


def test_classification_reports_roc_curves_and_none_for_an_absent_class() -> None:
    targets = torch.tensor([0, 0, 1, 1])
    logits = torch.tensor([[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.5, 2.0, 0.0]])
    found = metrics.classification(logits, targets, 3)
    roc = found["roc_curve"]
    assert roc["classes"][2] is None  # no sample of class 2: no curve
    assert roc["classes"][0]["auc"] == pytest.approx(1.0) and roc["classes"][1]["auc"] == pytest.approx(1.0)
    assert "roc_curve" not in metrics.scalars(found) and "confusion_matrix" not in metrics.scalars(found)


def test_r2_matches_its_definition_at_a_price_scale() -> None:
    from sklearn.metrics import mean_absolute_error, r2_score

    rng = torch.Generator().manual_seed(0)
    actual = 2e5 + 5e4 * torch.randn(200, generator=rng, dtype=torch.float64)
    predicted = actual + 1e4 * torch.randn(200, generator=rng, dtype=torch.float64)
    found = metrics.regression(predicted.float().reshape(-1, 1), actual.float())
    assert found["r2"] == pytest.approx(r2_score(actual.float().double(), predicted.float().double()), abs=1e-9)
    assert found["mae"] == pytest.approx(mean_absolute_error(actual.float().double(), predicted.float().double()))
    assert 0.9 < found["r2"] < 0.99 and 5e3 < found["mae"] < 1.5e4


def test_regression_plots_keep_the_whole_range_and_every_residual() -> None:
    actual = torch.arange(1000, dtype=torch.float32) * 10
    predicted = actual + torch.where(torch.arange(1000) % 2 == 0, 5.0, -5.0)
    plots = metrics.regression_plots(predicted, actual, points=50, bins=4)
    scatter = plots["predicted_vs_actual"]
    assert len(scatter["actual"]) == 50 and scatter["total"] == 1000
    assert scatter["actual"][0] == 0.0 and scatter["actual"][-1] == 9990.0  # both ends of the range
    assert all(abs(p - a) == 5.0 for a, p in zip(scatter["actual"], scatter["predicted"], strict=True))
    histogram = plots["residual_histogram"]
    assert sum(histogram["counts"]) == 1000 and histogram["counts"] == [500, 0, 0, 500]
    assert histogram["edges"][0] == -5.0 and histogram["edges"][-1] == 5.0
    assert metrics.scalars({"rmse": 1.0, **plots}) == {"rmse": 1.0}
