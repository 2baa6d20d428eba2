"""Validation and test metrics, computed from whole-split tensors on the CPU.

Classification: loss, accuracy, macro precision / recall / F1, one-vs-rest ROC AUC, the
confusion matrix and the ROC curves (one-vs-rest per class and the micro average, thinned to a
few dozen points each so an epoch's event stays small). Regression: MAE, RMSE and R² (in the data's
units: a run with a scaled target passes its outputs through the inverse first), and for the test
split a predicted-vs-actual sample and a residual histogram. Segmentation: pixel accuracy, Dice
and IoU, macro and per class.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

# Most points one ROC curve keeps: enough to draw it, few enough for every epoch's event.
ROC_POINTS = 50
# Values that describe one evaluation rather than summarise it: kept in the epoch's event and the
# test metrics, left out of the history and the "best" record that every checkpoint carries.
CURVE_KEYS = frozenset({"confusion_matrix", "roc_curve", "predicted_vs_actual", "residual_histogram",
                        "dice_per_class", "iou_per_class"})
# Most (actual, predicted) pairs the test split's scatter keeps, and the residual histogram's bins.
SCATTER_POINTS = 300
RESIDUAL_BINS = 20


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
    probabilities = torch.softmax(logits, 1)
    return {
        "accuracy": float(true_positive.sum() / max(len(targets), 1)),
        "precision_macro": float(precision[present].mean()) if present.any() else 0.0,
        "recall_macro": float(recall[present].mean()) if present.any() else 0.0,
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "roc_auc_macro": roc_auc_ovr(probabilities, targets, classes),
        "confusion_matrix": confusion.tolist(),
        "roc_curve": roc_curves(probabilities, targets, classes),
    }


def scalars(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the per-evaluation curves and matrices (``CURVE_KEYS``)."""
    return {k: v for k, v in values.items() if k not in CURVE_KEYS}


def roc_curves(probabilities: torch.Tensor, targets: torch.Tensor, classes: int,
               max_points: int = ROC_POINTS) -> dict[str, Any]:
    """One-vs-rest ROC curves from (N, C) probabilities and (N,) class ids.

    Returns ``{"classes": [curve or None, ...], "micro": curve or None}``, a curve being
    ``{"fpr": [...], "tpr": [...], "auc": float}`` from (0, 0) to (1, 1), at most ``max_points``
    points, all of them vertices of the exact curve; its ``auc`` is the exact curve's. A class
    without positives or without negatives among the targets has no curve (None). The micro
    average pools every (sample, class) pair into one binary problem.
    """
    scores = probabilities.detach().double().cpu().numpy()
    labels = targets.detach().long().cpu().numpy()
    onehot = labels[:, None] == np.arange(classes)[None, :]
    per_class = [roc_curve(scores[:, c], onehot[:, c], max_points) for c in range(classes)]
    return {"classes": per_class, "micro": roc_curve(scores.reshape(-1), onehot.reshape(-1), max_points)}


def roc_curve(scores: np.ndarray, positive: np.ndarray, max_points: int = ROC_POINTS) -> dict[str, Any] | None:
    """The ROC curve of one binary problem (as ``sklearn.metrics.roc_curve``), thinned; see ``roc_curves``."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(positive):
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    ranked, hits = scores[order], positive[order]
    # One point per distinct threshold: the last sample before the score changes.
    ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    tps = np.cumsum(hits)[ends].astype(np.float64)
    fps = (ends + 1).astype(np.float64) - tps
    # Points on a straight stretch add nothing to the drawing (sklearn's drop_intermediate, which
    # also looks before the curve's start at (0, 0) is added).
    keep = np.ones(len(fps), dtype=bool)
    if len(fps) > 2:
        keep[1:-1] = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
    fpr, tpr = np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    corners = np.r_[0, np.flatnonzero(keep) + 1]
    if len(corners) > max_points:
        picks = np.round(np.linspace(0, len(corners) - 1, max(max_points, 2))).astype(int)
        corners = corners[np.unique(picks)]
    return {"fpr": [round(float(v), 4) for v in fpr[corners]], "tpr": [round(float(v), 4) for v in tpr[corners]],
            "auc": round(auc, 6)}


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
    """MAE, RMSE and R² (1 - SSE / SST, SST about the targets' own mean; None for a constant target),
    computed in float64 so targets in the hundreds of thousands lose nothing."""
    predicted = predictions.detach().double().reshape(len(targets), -1)[:, 0].cpu()
    actual = targets.detach().double().reshape(-1).cpu()
    error = predicted - actual
    total = float((actual - actual.mean()).pow(2).sum())
    return {"mae": float(error.abs().mean()), "rmse": float(error.pow(2).mean().sqrt()),
            "r2": 1.0 - float(error.pow(2).sum()) / total if total > 0 else None}


def regression_plots(predictions: torch.Tensor, targets: torch.Tensor, points: int = SCATTER_POINTS,
                     bins: int = RESIDUAL_BINS) -> dict[str, Any]:
    """What the run page draws for a regressor: ``predicted_vs_actual`` (``{"actual", "predicted",
    "total"}``, at most ``points`` pairs picked evenly along the sorted actual values, so the
    picture keeps the whole range) and ``residual_histogram`` (``{"counts", "edges"}`` of predicted
    minus actual, ``bins`` equal bins)."""
    predicted = predictions.detach().double().reshape(len(targets), -1)[:, 0].cpu().numpy()
    actual = targets.detach().double().reshape(-1).cpu().numpy()
    if len(actual) == 0:
        return {}
    order = np.argsort(actual, kind="stable")
    picks = order[np.unique(np.round(np.linspace(0, len(order) - 1, min(points, len(order)))).astype(int))]
    counts, edges = np.histogram(predicted - actual, bins=bins)
    return {"predicted_vs_actual": {"actual": [_round(v) for v in actual[picks]],
                                    "predicted": [_round(v) for v in predicted[picks]], "total": len(actual)},
            "residual_histogram": {"counts": counts.tolist(), "edges": [_round(v) for v in edges]}}


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def segmentation(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> dict[str, Any]:
    """Pixel (voxel) accuracy, and Dice and IoU per class and their macro means over the classes
    present, from (N, C, ...) logits and (N, ...) labels: 2-D masks or 3-D volumes alike.

    Counts pool every pixel of the split (not a mean of per-sample scores). ``dice_per_class`` and
    ``iou_per_class`` list one value per class index, None for a class in neither the prediction nor
    the labels (it has nothing to score); the means skip those."""
    predicted = logits.argmax(1).reshape(-1)
    actual = targets.long().reshape(-1)
    # One pass over the pixels: the (actual, predicted) confusion counts.
    confusion = torch.bincount(actual * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    overlap = confusion.diag().double()
    predicted_count, actual_count = confusion.sum(0).double(), confusion.sum(1).double()
    union = predicted_count + actual_count - overlap
    dice: list[float | None] = []
    iou: list[float | None] = []
    for c in range(classes):
        scored = bool(union[c] > 0)
        dice.append(float(2 * overlap[c] / (predicted_count[c] + actual_count[c])) if scored else None)
        iou.append(float(overlap[c] / union[c]) if scored else None)
    present_dice = [d for d in dice if d is not None]
    present_iou = [v for v in iou if v is not None]
    return {
        "pixel_accuracy": float(overlap.sum() / max(len(actual), 1)),
        "dice": sum(present_dice) / len(present_dice) if present_dice else 0.0,
        "iou": sum(present_iou) / len(present_iou) if present_iou else 0.0,
        "dice_per_class": dice,
        "iou_per_class": iou,
    }


def compute(task: str, outputs: torch.Tensor, targets: torch.Tensor, classes: int,
            plots: bool = False) -> dict[str, Any]:
    """The task's metrics; ``plots`` adds a regressor's scatter and residual histogram."""
    if task == "classification":
        return classification(outputs, targets, classes)
    if task == "segmentation":
        return segmentation(outputs, targets, classes)
    return regression(outputs, targets) | (regression_plots(outputs, targets) if plots else {})


# Whether a larger value of the metric is better (early stopping and "best" checkpoint).
HIGHER_IS_BETTER = {"accuracy": True, "f1_macro": True, "dice": True, "iou": True, "r2": True,
                    "loss": False, "mae": False, "rmse": False}
