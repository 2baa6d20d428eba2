"""``scaled_tanh``: scale * tanh(x), scale fixed or learned. One LayerType, one module."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from builder.graph import LayerType, Port

Shape = tuple[int, ...]


class ScaledTanhModule(nn.Module):
    def __init__(self, scale: float, learnable: bool) -> None:
        super().__init__()
        if learnable:
            self.scale = nn.Parameter(torch.tensor(scale))
        else:
            self.register_buffer("scale", torch.tensor(scale))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * torch.tanh(x)


class ScaledTanhParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.7159, gt=0.0, le=100.0, description="Output range is (-scale, scale).")
    learnable: bool = Field(False, description="Learn the scale during training.")


class ScaledTanh(LayerType):
    id = "scaled_tanh"
    category = "activation (plugin)"
    doc = "scale · tanh(x) (LeCun's 1.7159 · tanh by default)."
    Params = ScaledTanhParams
    inputs = (Port("in", "any float tensor [N,...]"),)
    outputs = (Port("out", "same shape as the input"),)
    examples = [
        {"params": {}, "inputs": {"in": (2, 5)}},
        {"params": {"scale": 2.0, "learnable": True}, "inputs": {"in": (2, 3, 4, 4)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        return {"out": in_shapes["in"]}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, ScaledTanhParams)
        return 1 if params.learnable else 0

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        n = 1
        for d in in_shapes["in"]:
            n *= d
        return 2 * n  # tanh and the multiply

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ScaledTanhParams)
        return ScaledTanhModule(params.scale, params.learnable)
