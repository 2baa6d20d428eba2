"""Regression targets on a scale a network learns well, and back to the data's own units.

A network starts with outputs near 0 and moves its last bias by about the learning rate per
step, so a target in the hundreds of thousands (a price, a duration, a dose) is out of its reach
in any sensible number of epochs. As scikit-learn's ``TransformedTargetRegressor``, Ludwig and
AutoGluon do, the run trains on the standardised target and reports and serves the inverse:

- ``standardize``: ``z = (y - mean) / std``, inverse ``y = z * std + mean``;
- ``log`` (positive, skewed targets): ``z = (ln y - mean) / std`` with the mean and std of
  ``ln y``, inverse ``y = exp(z * std + mean)``;
- ``none``: the raw target.

The statistics are learnt on the training split only (``target_statistics``, stored in the dataset
version's recipe at ingest) so nothing about the validation or test rows leaks into training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

TargetScaling = Literal["standardize", "none", "log"]
SCALINGS: tuple[str, ...] = ("standardize", "none", "log")
TRAIN_CODE = 0  # pipelines.datasets.cache.SPLIT_CODE["train"]


class TargetScalingError(ValueError):
    """A scaling that does not fit the data (``log`` of a non-positive target)."""


@dataclass(frozen=True)
class TargetTransform:
    """``forward`` maps a raw target to what the network learns; ``inverse`` maps the network's
    output back to the data's units. Both work on tensors of any shape, in float32."""

    kind: Literal["standardize", "log"]
    mean: float
    std: float

    def forward(self, target: torch.Tensor) -> torch.Tensor:
        target = target.float()
        if self.kind == "log":
            target = target.log()
        return (target - self.mean) / self.std

    def inverse(self, output: torch.Tensor) -> torch.Tensor:
        value = output.float() * self.std + self.mean
        return value.exp() if self.kind == "log" else value

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored with a run's plan, its artifact and the model card."""
        formula = ("y = exp(output * std + mean)" if self.kind == "log" else "y = output * std + mean")
        return {"kind": self.kind, "mean": self.mean, "std": self.std, "learnt_on": "train", "inverse": formula}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> TargetTransform | None:
        if not value or value.get("kind") not in ("standardize", "log"):
            return None
        return cls(kind=value["kind"], mean=float(value["mean"]), std=float(value["std"]))


def target_statistics(targets: np.ndarray, splits: np.ndarray) -> dict[str, Any]:
    """What every scaling needs, from the training split's targets (``splits == 0``): their count,
    mean, std, min and max, the mean and std of their natural log when all of them are positive
    (else None), and the smallest target of every split (``log`` needs all of them positive)."""
    values = np.asarray(targets, dtype=np.float64).reshape(-1)
    train = values[np.asarray(splits).reshape(-1) == TRAIN_CODE]
    if len(train) == 0:
        train = values
    positive = bool(len(train)) and bool((train > 0).all())
    logs = np.log(train) if positive else None
    return {"split": "train", "count": int(len(train)), "mean": float(train.mean()), "std": _spread(train),
            "min": float(train.min()), "max": float(train.max()),
            "log_mean": float(logs.mean()) if logs is not None else None,
            "log_std": _spread(logs) if logs is not None else None,
            "min_all_splits": float(values.min())}


def statistics_for(recipe: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The recipe's ``target_scaling`` statistics, or (a version ingested before they were
    recorded) the same figures computed from the cache's targets and splits."""
    if recipe.get("target_scaling"):
        return dict(recipe["target_scaling"])
    from .cache import load_small

    return target_statistics(load_small(cache, "targets"), load_small(cache, "splits"))


def _spread(values: np.ndarray) -> float:
    std = float(values.std())
    # A constant target: any scale works; 1 keeps the inverse the identity shift.
    return std if std > 0 and math.isfinite(std) else 1.0


def resolve(scaling: str, statistics: dict[str, Any]) -> TargetTransform | None:
    """The transform a run trains with: ``scaling`` applied with ``statistics`` (see
    ``target_statistics``). Raises ``TargetScalingError`` for ``log`` with a target <= 0."""
    if scaling == "none":
        return None
    if scaling == "log":
        smallest = min(float(statistics["min_all_splits"]), float(statistics["min"]))
        if smallest <= 0 or statistics.get("log_mean") is None:
            raise TargetScalingError(f"log scaling needs every target above 0; the smallest is {smallest:g}. "
                                     "Use standardize or none")
        return TargetTransform("log", float(statistics["log_mean"]), float(statistics["log_std"]))
    if scaling != "standardize":
        raise TargetScalingError(f"unknown target scaling {scaling!r}; use one of {', '.join(SCALINGS)}")
    return TargetTransform("standardize", float(statistics["mean"]), float(statistics["std"]))


class InverseTarget(torch.nn.Module):
    """A trained network followed by its target's inverse transform: its outputs are in the data's
    units, and it exports to TorchScript and ONNX with the inverse inside."""

    def __init__(self, network: torch.nn.Module, transform: TargetTransform) -> None:
        super().__init__()
        self.network = network
        self.log = transform.kind == "log"
        self.register_buffer("scale", torch.tensor(transform.std, dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(transform.mean, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = self.network(x) * self.scale + self.shift
        return torch.exp(value) if self.log else value
