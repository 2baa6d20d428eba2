"""``swish_beta``: x * sigmoid(beta * x) with a learned beta; exported through ``LAYERS``."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from builder.graph import LayerType, ShapeError

Shape = tuple[int, ...]


class SwishBetaModule(nn.Module):
    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(beta))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x)


class SwishBetaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beta: float = Field(
        1.0, ge=0.0, le=10.0, description="Initial beta (learned): 0 is x/2, large is ReLU-like."
    )


class SwishBeta(LayerType):
    id = "swish_beta"
    category = "activation (plugin)"
    doc = "x · sigmoid(β·x) with a learned β (Ramachandran et al.)."
    Params = SwishBetaParams
    examples = [{"params": {"beta": 0.5}, "inputs": {"in": (2, 8)}}]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = in_shapes["in"]
        if len(x) < 2:
            raise ShapeError(f"swish_beta expects a batch of values [N,...] but got {x}", port="in")
        return {"out": x}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        return 1

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        n = 1
        for d in in_shapes["in"]:
            n *= d
        return 3 * n

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, SwishBetaParams)
        return SwishBetaModule(params.beta)


LAYERS = [SwishBeta]
