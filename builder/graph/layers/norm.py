"""Normalisation layers. Channels (or normalised sizes) come from the input shape.
FLOPs: 4 per element (subtract mean, divide by std, scale, shift); statistics are not counted."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field
from torch import nn

from ..registry import Port, Shape, ShapeError, register
from ._base import LAYOUTS, LayerParams, PosInt, SameShape, expect_min_rank, expect_rank, fmt, numel

NORM_FLOPS_PER_ELEMENT = 4
Eps = Annotated[float, Field(gt=0.0, le=1.0, description="Added to the variance for stability.")]


class BatchNormParams(LayerParams):
    eps: Eps = 1e-5
    momentum: float = Field(
        0.1, ge=0.0, le=1.0, description="Weight of each batch in the running statistics."
    )
    affine: bool = Field(True, description="Learn a scale and shift per channel.")
    track_running_stats: bool = Field(True, description="Keep running mean/variance for evaluation.")


class InstanceNormParams(BatchNormParams):
    affine: bool = Field(False, description="Learn a scale and shift per channel.")
    track_running_stats: bool = Field(False, description="Keep running mean/variance for evaluation.")


class ChannelNorm(SameShape):
    """Batch and instance norm: per-channel statistics over ``[N,C,*]``."""

    category = "normalization"
    flops_per_element = NORM_FLOPS_PER_ELEMENT
    ranks: ClassVar[tuple[int, ...]]
    module: ClassVar[type[nn.Module]]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = in_shapes["in"]
        expect_rank(self.id, x, self.ranks)
        return {"out": x}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, BatchNormParams)
        return 2 * in_shapes["in"][1] if params.affine else 0

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, BatchNormParams)
        return self.module(
            in_shapes["in"][1],
            eps=params.eps,
            momentum=params.momentum,
            affine=params.affine,
            track_running_stats=params.track_running_stats,
        )


@register
class BatchNorm1d(ChannelNorm):
    id = "batch_norm1d"
    doc = f"Batch normalisation over {LAYOUTS[2]} or {LAYOUTS[3]}."
    Params = BatchNormParams
    ranks = (2, 3)
    module = nn.BatchNorm1d
    examples = [
        {"params": {}, "inputs": {"in": (4, 6)}},
        {"params": {"affine": False}, "inputs": {"in": (3, 5, 7)}},
    ]


@register
class BatchNorm2d(ChannelNorm):
    id = "batch_norm2d"
    doc = f"Batch normalisation over images {LAYOUTS[4]}."
    Params = BatchNormParams
    ranks = (4,)
    module = nn.BatchNorm2d
    examples = [{"params": {}, "inputs": {"in": (2, 6, 5, 4)}}]


@register
class BatchNorm3d(ChannelNorm):
    id = "batch_norm3d"
    doc = f"Batch normalisation over volumes {LAYOUTS[5]}."
    Params = BatchNormParams
    ranks = (5,)
    module = nn.BatchNorm3d
    examples = [{"params": {}, "inputs": {"in": (2, 3, 2, 3, 4)}}]


class InstanceNorm(ChannelNorm):
    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = super().infer(params, in_shapes)["out"]
        if numel(x[2:]) < 2:
            raise ShapeError(f"{self.id} needs more than one spatial value per channel but got {fmt(x)}")
        return {"out": x}


@register
class InstanceNorm1d(InstanceNorm):
    id = "instance_norm1d"
    doc = f"Instance normalisation over {LAYOUTS[3]}: each sample and channel on its own."
    Params = InstanceNormParams
    ranks = (3,)
    module = nn.InstanceNorm1d
    examples = [{"params": {"affine": True}, "inputs": {"in": (2, 3, 6)}}]


@register
class InstanceNorm2d(InstanceNorm):
    id = "instance_norm2d"
    doc = f"Instance normalisation over images {LAYOUTS[4]} (style transfer)."
    Params = InstanceNormParams
    ranks = (4,)
    module = nn.InstanceNorm2d
    examples = [{"params": {}, "inputs": {"in": (2, 3, 4, 5)}}]


@register
class InstanceNorm3d(InstanceNorm):
    id = "instance_norm3d"
    doc = f"Instance normalisation over volumes {LAYOUTS[5]}."
    Params = InstanceNormParams
    ranks = (5,)
    module = nn.InstanceNorm3d
    examples = [{"params": {"affine": True}, "inputs": {"in": (1, 2, 2, 3, 3)}}]


class LayerNormParams(LayerParams):
    normalized_dims: int = Field(
        1, ge=1, le=4, description="How many trailing dimensions to normalise over (1: features only)."
    )
    eps: Eps = 1e-5
    elementwise_affine: bool = Field(True, description="Learn a scale per normalised element.")
    bias: bool = Field(True, description="Learn a shift too (with elementwise_affine).")


@register
class LayerNorm(SameShape):
    id = "layer_norm"
    category = "normalization"
    doc = "Layer normalisation over the last dimension(s) of each sample (transformers)."
    Params = LayerNormParams
    flops_per_element = NORM_FLOPS_PER_ELEMENT
    inputs = (Port("in", "[N,...]"),)
    examples = [
        {"params": {}, "inputs": {"in": (2, 5, 8)}},
        {"params": {"normalized_dims": 3, "bias": False}, "inputs": {"in": (2, 3, 4, 4)}},
        {"params": {"elementwise_affine": False}, "inputs": {"in": (3, 7)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, LayerNormParams)
        x = in_shapes["in"]
        expect_min_rank(
            self.id, x, params.normalized_dims + 1, f"with {params.normalized_dims} dims after the batch"
        )
        return {"out": x}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, LayerNormParams)
        if not params.elementwise_affine:
            return 0
        size = numel(in_shapes["in"][-params.normalized_dims :])
        return size * (2 if params.bias else 1)

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, LayerNormParams)
        shape = list(in_shapes["in"][-params.normalized_dims :])
        return nn.LayerNorm(
            shape, eps=params.eps, elementwise_affine=params.elementwise_affine, bias=params.bias
        )


class GroupNormParams(LayerParams):
    num_groups: PosInt = Field(8, description="Channel groups normalised together (channels must divide).")
    eps: Eps = 1e-5
    affine: bool = Field(True, description="Learn a scale and shift per channel.")


@register
class GroupNorm(SameShape):
    id = "group_norm"
    category = "normalization"
    doc = "Group normalisation over [N,C,*]: statistics per sample and group of channels."
    Params = GroupNormParams
    flops_per_element = NORM_FLOPS_PER_ELEMENT
    examples = [
        {"params": {"num_groups": 2}, "inputs": {"in": (2, 6, 4, 4)}},
        {"params": {"num_groups": 3, "affine": False}, "inputs": {"in": (2, 6, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, GroupNormParams)
        x = in_shapes["in"]
        expect_min_rank(self.id, x, 2, "[N,C,...]")
        if x[1] % params.num_groups:
            raise ShapeError(
                f"{self.id} with num_groups={params.num_groups} needs channels divisible by "
                f"{params.num_groups} but got {fmt(x)}"
            )
        return {"out": x}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        assert isinstance(params, GroupNormParams)
        x = in_shapes["in"]
        return [{"num_groups": math.gcd(x[1], params.num_groups)}] if len(x) >= 2 else []

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, GroupNormParams)
        return 2 * in_shapes["in"][1] if params.affine else 0

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, GroupNormParams)
        return nn.GroupNorm(params.num_groups, in_shapes["in"][1], eps=params.eps, affine=params.affine)
