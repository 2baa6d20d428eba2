"""Upsampling, embeddings and free-standing learnable tensors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from torch import nn

from .. import modules
from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import (
    MAX_SIZE,
    LayerParams,
    NonNegInt,
    PosInt,
    expect_rank,
    fmt,
    ntuple,
    numel,
)

Scale = Annotated[float, Field(gt=0.0, le=64.0)]
_MODE_RANKS = {"nearest": (3, 4, 5), "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


class UpsampleParams(LayerParams):
    scale_factor: Scale | list[Scale] | None = Field(
        2.0, description="Multiply each spatial size by this (output sizes round down)."
    )
    size: PosInt | list[PosInt] | None = Field(
        None, description="Exact output size per spatial axis; overrides scale_factor when set."
    )
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = Field(
        "nearest",
        description="Interpolation: linear for [N,C,L], bilinear/bicubic for images, trilinear for volumes.",
    )
    align_corners: bool | None = Field(
        None, description="Interpolating modes only: align the corner pixels of input and output."
    )

    @model_validator(mode="after")
    def _consistent(self) -> UpsampleParams:
        if self.size is None and self.scale_factor is None:
            raise ValueError("give a scale_factor or a size")
        if self.mode == "nearest" and self.align_corners is not None:
            raise ValueError("align_corners only applies to linear, bilinear, bicubic and trilinear modes")
        return self


@register
class Upsample(LayerType):
    id = "upsample"
    category = "shape"
    doc = "Resizes the spatial dimensions of [N,C,L], [N,C,H,W] or [N,C,D,H,W] by interpolation."
    Params = UpsampleParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 3, 4, 5)}},
        {
            "params": {"scale_factor": [1.5, 2.0], "mode": "bilinear", "align_corners": False},
            "inputs": {"in": (2, 3, 5, 4)},
        },
        {"params": {"size": [6, 4, 8], "mode": "trilinear"}, "inputs": {"in": (1, 2, 3, 2, 4)}},
        {"params": {"scale_factor": 3, "mode": "linear", "align_corners": True}, "inputs": {"in": (2, 3, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, UpsampleParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, _MODE_RANKS[params.mode])
        dims = len(x) - 2
        chosen = params.size if params.size is not None else params.scale_factor
        if isinstance(chosen, list) and len(chosen) != dims:
            name = "size" if params.size is not None else "scale_factor"
            raise ShapeError(
                f"{self.id} {name} {chosen} needs {dims} entries for {fmt(x)}", code="invalid_param"
            )
        if params.size is not None:
            spatial = ntuple(params.size, dims)
        else:
            assert params.scale_factor is not None
            scales = (
                [params.scale_factor] * dims
                if isinstance(params.scale_factor, float)
                else params.scale_factor
            )
            spatial = tuple(math.floor(size * s) for size, s in zip(x[2:], scales, strict=True))
            if min(spatial) < 1:
                raise ShapeError(f"{self.id} scale_factor {params.scale_factor} shrinks {fmt(x)} to nothing")
        return {"out": (x[0], x[1], *spatial)}

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, UpsampleParams)
        dims = len(out_shapes["out"]) - 2
        per_output = {"nearest": 1, "bicubic": 31}.get(params.mode, 2 * 2**dims - 1)
        return per_output * numel(out_shapes["out"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, UpsampleParams)
        if params.size is not None:
            size = params.size if isinstance(params.size, int) else tuple(params.size)
            return nn.Upsample(size=size, mode=params.mode, align_corners=params.align_corners)
        scale = (
            params.scale_factor
            if isinstance(params.scale_factor, float)
            else tuple(params.scale_factor or ())
        )
        return nn.Upsample(scale_factor=scale, mode=params.mode, align_corners=params.align_corners)


class ParameterParams(LayerParams):
    shape: list[Annotated[int, Field(ge=1, le=MAX_SIZE)]] = Field(
        [1],
        min_length=1,
        max_length=6,
        description="Shape after the leading 1, e.g. [C,1,1] for a per-channel scale on [N,C,H,W].",
    )
    init: Literal["zeros", "ones", "normal", "uniform"] = Field("zeros", description="Initial values.")
    std: float = Field(0.02, gt=0.0, le=10.0, description="Spread of the normal/uniform initialisation.")


@register
class Parameter(LayerType):
    id = "parameter"
    category = "misc"
    doc = "A learnable tensor [1,*shape] with no input; broadcasts against a batch (class tokens, learned scales)."
    Params = ParameterParams
    inputs = ()
    outputs = (Port("out", "[1,*shape]"),)
    examples = [
        {"params": {"shape": [3, 1, 1], "init": "normal"}, "inputs": {}},
        {"params": {}, "inputs": {}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ParameterParams)
        return {"out": (1, *params.shape)}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, ParameterParams)
        return numel(params.shape)

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ParameterParams)
        return modules.ParameterTensor(params.shape, params.init, params.std)


class EmbeddingParams(LayerParams):
    num_embeddings: PosInt = Field(1000, description="Vocabulary size: token ids run 0..num_embeddings-1.")
    embedding_dim: PosInt = Field(64, description="Size of each token's vector.")
    padding_idx: NonNegInt | None = Field(
        None, description="A token id whose vector stays zero and untrained (padding)."
    )

    @model_validator(mode="after")
    def _padding_in_vocab(self) -> EmbeddingParams:
        if self.padding_idx is not None and self.padding_idx >= self.num_embeddings:
            raise ValueError("padding_idx must be below num_embeddings")
        return self


@register
class Embedding(LayerType):
    id = "embedding"
    category = "embedding"
    doc = "Looks up a learned vector per token id: [N,L] int64 -> [N,L,embedding_dim]."
    Params = EmbeddingParams
    inputs = (Port("in", "[N,L] token ids (int64)"),)
    outputs = (Port("out", "[N,L,embedding_dim]"),)
    examples = [
        {"params": {"num_embeddings": 20, "embedding_dim": 6}, "inputs": {"in": (2, 5)}, "dtype": "int64"},
        {
            "params": {"num_embeddings": 9, "embedding_dim": 4, "padding_idx": 0},
            "inputs": {"in": (3,)},
            "dtype": "int64",
        },
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, EmbeddingParams)
        return {"out": (*in_shapes["in"], params.embedding_dim)}

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        if in_dtypes.get("in", "int64") != "int64":
            raise ShapeError(
                f"{self.id} looks up token ids (int64) but got {in_dtypes['in']} values: feed it from a token_input",
                code="dtype_mismatch",
                port="in",
            )
        return {"out": "float32"}

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, EmbeddingParams)
        return params.num_embeddings * params.embedding_dim

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, EmbeddingParams)
        return nn.Embedding(params.num_embeddings, params.embedding_dim, padding_idx=params.padding_idx)
