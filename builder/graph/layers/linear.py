"""Fully connected layer. ``in_features`` is the input's last dimension."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field
from torch import nn

from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import LayerParams, PosInt, expect_min_rank, fmt, numel


class LinearParams(LayerParams):
    out_features: PosInt = Field(64, description="Size of each output vector.")
    bias: bool = Field(True, description="Learn an additive bias.")


@register
class Linear(LayerType):
    id = "linear"
    category = "linear"
    doc = "Fully connected layer y = xWᵀ + b, applied to the last dimension ([N,F] or [N,L,F])."
    Params = LinearParams
    inputs = (Port("in", "[N,...,in_features]"),)
    outputs = (Port("out", "[N,...,out_features]"),)
    examples = [
        {"params": {"out_features": 7}, "inputs": {"in": (3, 12)}},
        {"params": {"out_features": 5, "bias": False}, "inputs": {"in": (2, 4, 6)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, LinearParams)
        x = in_shapes["in"]
        expect_min_rank(self.id, x, 2, "[N,F]")
        return {"out": (*x[:-1], params.out_features)}

    def advice(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[ShapeError]:
        x = in_shapes["in"]
        if len(x) >= 4:
            return [
                ShapeError(
                    f"linear applies to the last dimension only, and got {fmt(x)}: insert a flatten first?",
                    code="suspicious_shape",
                    port="in",
                    fix={"insert": "flatten"},
                )
            ]
        return []

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, LinearParams)
        fin = in_shapes["in"][-1]
        return fin * params.out_features + (params.out_features if params.bias else 0)

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, LinearParams)
        x = in_shapes["in"]
        rows = numel(x) // x[-1]
        return 2 * rows * x[-1] * params.out_features + (rows * params.out_features if params.bias else 0)

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, LinearParams)
        return nn.Linear(in_shapes["in"][-1], params.out_features, bias=params.bias)
