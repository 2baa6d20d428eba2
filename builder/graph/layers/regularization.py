"""Layers that act only while training: dropout in its variants and stochastic depth.

Each is the identity in evaluation, so an exported or served model is unaffected; in training
they draw from the global torch RNG (which checkpoints save, so a resumed run draws the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import BaseModel, Field
from torch import nn

from .. import modules
from ..registry import Shape, ShapeError, register
from ._base import LAYOUTS, LayerParams, SameShape, expect_rank, fmt


class DropoutParams(LayerParams):
    p: float = Field(
        0.5, ge=0.0, lt=1.0, description="Probability of zeroing each value (or channel) while training."
    )


@register
class Dropout(SameShape):
    id = "dropout"
    category = "regularization"
    doc = "Zeroes random values while training and rescales the rest; does nothing in evaluation."
    Params = DropoutParams
    examples = [{"params": {"p": 0.2}, "inputs": {"in": (2, 7)}}]

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, DropoutParams)
        return nn.Dropout(params.p)


class _ChannelDropout(Dropout):
    """Dropout of whole channels of one layout (``rank``) by the torch class ``torch_class``."""

    rank: ClassVar[int]
    torch_class: ClassVar[type[nn.Module]]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        expect_rank(self.id, in_shapes["in"], (self.rank,))
        return {"out": in_shapes["in"]}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, DropoutParams)
        return self.torch_class(params.p)


@register
class Dropout1d(_ChannelDropout):
    id = "dropout1d"
    doc = f"Zeroes whole channels of {LAYOUTS[3]} while training."
    rank, torch_class = 3, nn.Dropout1d
    examples = [{"params": {}, "inputs": {"in": (2, 3, 6)}}]


@register
class Dropout2d(_ChannelDropout):
    id = "dropout2d"
    doc = f"Zeroes whole channels of {LAYOUTS[4]} while training."
    rank, torch_class = 4, nn.Dropout2d
    examples = [{"params": {}, "inputs": {"in": (2, 3, 4, 4)}}]


@register
class Dropout3d(_ChannelDropout):
    id = "dropout3d"
    doc = f"Zeroes whole channels of {LAYOUTS[5]} while training."
    rank, torch_class = 5, nn.Dropout3d
    examples = [{"params": {}, "inputs": {"in": (2, 3, 2, 4, 4)}}]


@register
class AlphaDropout(Dropout):
    id = "alpha_dropout"
    doc = ("Dropout for self-normalising (SELU) networks: sets values to SELU's negative saturation "
           "and keeps the mean and variance; does nothing in evaluation.")
    flops_per_element = 2  # x * a + b
    examples = [{"params": {"p": 0.2}, "inputs": {"in": (2, 7)}}]

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, DropoutParams)
        return nn.AlphaDropout(params.p)


@register
class FeatureAlphaDropout(AlphaDropout):
    id = "feature_alpha_dropout"
    doc = "Alpha dropout of whole channels of [N,C,L], [N,C,H,W] or [N,C,D,H,W] while training."
    examples = [{"params": {}, "inputs": {"in": (2, 3, 4, 4)}}]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        expect_rank(self.id, in_shapes["in"], (3, 4, 5))
        return {"out": in_shapes["in"]}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, DropoutParams)
        return nn.FeatureAlphaDropout(params.p)


class StochasticDepthParams(LayerParams):
    p: float = Field(
        0.1, ge=0.0, le=1.0,
        description="Probability of dropping the branch while training (survivors are scaled by 1 / (1 - p)).",
    )
    mode: Literal["row", "batch"] = Field(
        "row", description="row: drop each sample's branch on its own; batch: drop it for the whole batch."
    )


@register
class StochasticDepth(SameShape):
    id = "stochastic_depth"
    category = "regularization"
    doc = ("Randomly drops a residual branch while training (place it before the add); the identity "
           "in evaluation. As torchvision's StochasticDepth (EfficientNet, ConvNeXt, Swin).")
    Params = StochasticDepthParams
    examples = [
        {"params": {"p": 0.2}, "inputs": {"in": (4, 3, 5, 5)}},
        {"params": {"p": 0.5, "mode": "batch"}, "inputs": {"in": (2, 6, 8)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = in_shapes["in"]
        if len(x) < 2:
            raise ShapeError(f"{self.id} expects a batch of tensors [N,...] but got {fmt(x)}", port="in")
        return {"out": x}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, StochasticDepthParams)
        return modules.StochasticDepth(params.p, params.mode)
