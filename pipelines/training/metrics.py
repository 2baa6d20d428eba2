"""Validation and test metrics, computed from whole-split tensors on the CPU.

Classification: loss, accuracy, macro precision / recall / F1, one-vs-rest ROC AUC and the
confusion matrix. Regression: MAE and RMSE. Segmentation: pixel accuracy, Dice and IoU.
"""
from __future__ import annotations

from typing import Any

import torch


def classification(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> dict[str, Any]:
    logits = logits.float()
    predicted = logits.argmax(1)
    index = targets.long() * classes + predicted.long()
    confusion = torch.bincount(index, minlength=classes * classes).reshape(classes, classes)
    true_positive = confusion.diag().double()
    predicted_count = confusion.sum(0).double()
    actual_count = confusion.sum(1).double()
    precision = torch.where(predicted_count > 0, true_positive / predicted_count.clamp(min=1), 0.0)
    recall = torch.where(actual_count > 0, true_positive / actual_count.clamp(min=1), 0.0)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp(min=1e-12), 0.0)
    present = actual_count > 0
    return {
        "accuracy": float(true_positive.sum() / max(len(targets), 1)),
        "precision_macro": float(precision[present].mean()) if present.any() else 0.0,
        "recall_macro": float(recall[present].mean()) if present.any() else 0.0,
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "roc_auc_macro": roc_auc_ovr(torch.softmax(logits, 1), targets, classes),
        "confusion_matrix": confusion.tolist(),
    }


def roc_auc_ovr(probabilities: torch.Tensor, targets: torch.Tensor, classes: int) -> float | None:
    """Macro one-vs-rest ROC AUC by the rank-sum formula (ties get average ranks)."""
    scores = []
    for c in range(classes):
        positive = targets == c
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = _average_ranks(probabilities[:, c].double())
        scores.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(torch.stack(scores).mean()) if scores else None


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    order = values.argsort()
    sorted_values = values[order]
    ranks = torch.empty_like(values)
    ranks[order] = torch.arange(1, len(values) + 1, dtype=values.dtype)
    unique, inverse, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    if len(unique) < len(values):  # ties: every member gets the mean of their ranks
        sums = torch.zeros(len(unique), dtype=values.dtype).index_add_(0, inverse, ranks[order])
        ranks[order] = (sums / counts)[inverse]
    return ranks


def regression(predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
    error = predictions.float().reshape(-1) - targets.float().reshape(-1)
    return {"mae": float(error.abs().mean()), "rmse": float(error.pow(2).mean().sqrt())}


def segmentation(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> dict[str, Any]:
    """Macro Dice and IoU over the classes present, from (N, C, ...) logits and (N, ...) labels."""
    predicted = logits.argmax(1)
    dice, iou = [], []
    for c in range(classes):
        p, t = predicted == c, targets == c
        union = (p | t).sum().item()
        if union == 0:
            continue
        overlap = (p & t).sum().item()
        dice.append(2 * overlap / (p.sum().item() + t.sum().item()))
        iou.append(overlap / union)
    return {
        "pixel_accuracy": float((predicted == targets).float().mean()),
        "dice": sum(dice) / len(dice) if dice else 0.0,
        "iou": sum(iou) / len(iou) if iou else 0.0,
    }


def compute(task: str, outputs: torch.Tensor, targets: torch.Tensor, classes: int) -> dict[str, Any]:
    if task == "classification":
        return classification(outputs, targets, classes)
    if task == "segmentation":
        return segmentation(outputs, targets, classes)
    return regression(outputs, targets)


# Whether a larger value of the metric is better (early stopping and "best" checkpoint).
HIGHER_IS_BETTER = {"accuracy": True, "f1_macro": True, "dice": True, "iou": True,
                    "loss": False, "mae": False, "rmse": False}
