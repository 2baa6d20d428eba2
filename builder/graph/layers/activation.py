"""Activations: elementwise (1 FLOP per element), plus softmax/log_softmax (3 per element) and
PReLU (learned slope)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator
from torch import nn

from ..registry import Shape, register
from ._base import LayerParams, SameShape, expect_min_rank, norm_dim

_EXAMPLES: list[dict[str, Any]] = [
    {"params": {}, "inputs": {"in": (2, 3, 4, 5)}},
    {"params": {}, "inputs": {"in": (3, 7)}},
]


class Activation(SameShape):
    category = "activation"
    examples = _EXAMPLES
    module: ClassVar[type[nn.Module]]

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        return self.module(**params.model_dump())


@register
class ReLU(Activation):
    id = "relu"
    doc = "max(0, x)."
    module = nn.ReLU


@register
class ReLU6(Activation):
    id = "relu6"
    doc = "min(max(0, x), 6) (MobileNet)."
    module = nn.ReLU6


class LeakyReLUParams(LayerParams):
    negative_slope: float = Field(0.01, ge=0.0, le=1.0, description="Slope for negative inputs.")


@register
class LeakyReLU(Activation):
    id = "leaky_relu"
    doc = "x for x > 0, negative_slope·x otherwise."
    Params = LeakyReLUParams
    module = nn.LeakyReLU


class ELUParams(LayerParams):
    alpha: float = Field(
        1.0, gt=0.0, le=100.0, description="Value the output saturates to for very negative inputs (negated)."
    )


@register
class ELU(Activation):
    id = "elu"
    doc = "x for x > 0, alpha·(exp(x) − 1) otherwise."
    Params = ELUParams
    module = nn.ELU


class GELUParams(LayerParams):
    approximate: Literal["none", "tanh"] = Field("none", description="'tanh' uses the faster approximation.")


@register
class GELU(Activation):
    id = "gelu"
    doc = "Gaussian error linear unit (transformers)."
    Params = GELUParams
    module = nn.GELU


@register
class SiLU(Activation):
    id = "silu"
    doc = "x·sigmoid(x), also called swish."
    module = nn.SiLU


@register
class Mish(Activation):
    id = "mish"
    doc = "x·tanh(softplus(x))."
    module = nn.Mish


@register
class Sigmoid(Activation):
    id = "sigmoid"
    doc = "1 / (1 + exp(−x)): squashes to (0, 1)."
    module = nn.Sigmoid


@register
class Tanh(Activation):
    id = "tanh"
    doc = "Hyperbolic tangent: squashes to (−1, 1)."
    module = nn.Tanh


@register
class Hardswish(Activation):
    id = "hardswish"
    doc = "Piecewise-linear swish (MobileNetV3)."
    module = nn.Hardswish


@register
class Hardsigmoid(Activation):
    id = "hardsigmoid"
    doc = "Piecewise-linear sigmoid (MobileNetV3)."
    module = nn.Hardsigmoid


class HardtanhParams(LayerParams):
    min_val: float = Field(-1.0, description="Lower clamp.")
    max_val: float = Field(1.0, description="Upper clamp (must exceed min_val).")

    @model_validator(mode="after")
    def _ordered(self) -> HardtanhParams:
        if self.max_val <= self.min_val:
            raise ValueError("max_val must exceed min_val")
        return self


@register
class Hardtanh(Activation):
    id = "hardtanh"
    doc = "Clamps to [min_val, max_val]."
    Params = HardtanhParams
    module = nn.Hardtanh


class SoftmaxParams(LayerParams):
    dim: int = Field(-1, description="Dimension that sums to 1 (batch included, negative from the end).")


@register
class Softmax(Activation):
    id = "softmax"
    doc = "exp(x) normalised to sum to 1 along dim (class probabilities)."
    Params = SoftmaxParams
    module: ClassVar[type[nn.Module]] = nn.Softmax
    flops_per_element = 3
    examples = [
        {"params": {}, "inputs": {"in": (2, 10)}},
        {"params": {"dim": 1}, "inputs": {"in": (2, 4, 3, 3)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, SoftmaxParams)
        norm_dim(self.id, "dim", params.dim, in_shapes["in"])
        return {"out": in_shapes["in"]}


@register
class LogSoftmax(Softmax):
    id = "log_softmax"
    doc = "log(softmax(x)) along dim, computed stably (pairs with an NLL loss)."
    module = nn.LogSoftmax


class PReLUParams(LayerParams):
    per_channel: bool = Field(False, description="Learn one slope per channel instead of one in total.")
    init: float = Field(0.25, ge=0.0, le=1.0, description="Initial slope for negative inputs.")


@register
class PReLU(Activation):
    id = "prelu"
    doc = "Leaky ReLU with a learned slope (one, or one per channel)."
    Params = PReLUParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 5)}},
        {"params": {"per_channel": True}, "inputs": {"in": (2, 3, 4, 4)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = in_shapes["in"]
        expect_min_rank(self.id, x, 2, "[N,C,...]")
        return {"out": x}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, PReLUParams)
        return in_shapes["in"][1] if params.per_channel else 1

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, PReLUParams)
        return nn.PReLU(self.param_count(params, in_shapes), init=params.init)
