"""Attention: multi-head attention, a transformer encoder layer and positional encodings.
All sequences are batch-first ``[N, L, E]``; attention runs on
``F.scaled_dot_product_attention``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field
from torch import nn

from .. import modules
from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import MAX_SIZE, LayerParams, PosInt, expect_rank, fmt, numel

SEQUENCE = {3: "[N,L,E]"}
Dropout = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the attention weights while training.")


def attention_flops(
    n: int, length: int, source: int, e: int, kdim: int, vdim: int, heads: int, bias: bool
) -> int:
    """Projections (q, k, v, out), QKᵀ and AV (2 per multiply-add), softmax (3 per score)."""
    projections = 2 * n * (2 * length * e * e + source * kdim * e + source * vdim * e)
    biases = n * (2 * length + 2 * source) * e if bias else 0
    return projections + biases + 4 * n * length * source * e + 3 * n * heads * length * source


def attention_params(e: int, kdim: int, vdim: int, bias: bool) -> int:
    return (2 * e + kdim + vdim) * e + (4 * e if bias else 0)


def _divisible(layer_id: str, name: str, heads: int, x: Shape, port: str) -> None:
    if x[-1] % heads:
        raise ShapeError(
            f"{layer_id} with {name}={heads} needs an embedding size divisible by {heads} but got {fmt(x)}",
            port=port,
        )


class MultiHeadAttentionParams(LayerParams):
    num_heads: PosInt = Field(4, description="Attention heads; the query's embedding size must divide by it.")
    dropout: float = Dropout
    bias: bool = Field(True, description="Learn biases in the q/k/v/out projections.")
    causal: bool = Field(
        False, description="Each position attends only to itself and earlier ones (decoders)."
    )


@register
class MultiHeadAttention(LayerType):
    id = "multi_head_attention"
    category = "attention"
    doc = "Multi-head attention over [N,L,E]; leave key and value unconnected for self-attention."
    Params = MultiHeadAttentionParams
    inputs = (
        Port("query", "[N,L,E]: what attends; E is the embedding size"),
        Port("key", "[N,S,Ek] (default: the query)", optional=True),
        Port("value", "[N,S,Ev] (default: the key)", optional=True),
    )
    outputs = (Port("out", "[N,L,E]"),)
    examples = [
        {"params": {"num_heads": 2}, "inputs": {"query": (2, 5, 8)}},
        {
            "params": {"num_heads": 2, "bias": False, "causal": True},
            "inputs": {"query": (2, 5, 8), "key": (2, 7, 6), "value": (2, 7, 4)},
        },
        {"params": {"num_heads": 4}, "inputs": {"query": (2, 3, 8), "key": (2, 6, 8)}},
    ]

    @staticmethod
    def _kv(in_shapes: Mapping[str, Shape]) -> tuple[Shape, Shape, Shape]:
        q = in_shapes["query"]
        k = in_shapes.get("key", q)
        return q, k, in_shapes.get("value", k)

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, MultiHeadAttentionParams)
        q, k, v = self._kv(in_shapes)
        for port, shape in (("query", q), ("key", k), ("value", v)):
            expect_rank(self.id, shape, (3,), layouts=SEQUENCE, port=port)
        _divisible(self.id, "num_heads", params.num_heads, q, "query")
        if k[0] != q[0] or v[0] != q[0]:
            raise ShapeError(f"{self.id} query, key and value need the same batch size", port="key")
        if v[1] != k[1]:
            raise ShapeError(
                f"{self.id} expects key and value of one length but key is {fmt(k)} and value is {fmt(v)}",
                port="value",
            )
        return {"out": q}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        assert isinstance(params, MultiHeadAttentionParams)
        return [{"num_heads": math.gcd(in_shapes["query"][-1], params.num_heads)}]

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, MultiHeadAttentionParams)
        q, k, v = self._kv(in_shapes)
        return attention_params(q[-1], k[-1], v[-1], params.bias)

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, MultiHeadAttentionParams)
        q, k, v = self._kv(in_shapes)
        return attention_flops(q[0], q[1], k[1], q[2], k[2], v[2], params.num_heads, params.bias)

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, MultiHeadAttentionParams)
        q, k, v = self._kv(in_shapes)
        return modules.MultiHeadAttention(
            q[-1],
            params.num_heads,
            k[-1],
            v[-1],
            dropout=params.dropout,
            bias=params.bias,
            causal=params.causal,
        )


class TransformerEncoderParams(LayerParams):
    nhead: PosInt = Field(
        4, description="Attention heads; d_model (the input's last size) must divide by it."
    )
    dim_feedforward: PosInt = Field(256, description="Hidden size of the feed-forward block.")
    dropout: float = Field(
        0.1, ge=0.0, lt=1.0, description="Dropout in attention and feed-forward while training."
    )
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation of the feed-forward block.")
    norm_first: bool = Field(
        False, description="Layer norm before each block (pre-norm, trains deep stacks more easily)."
    )
    layer_norm_eps: float = Field(1e-5, gt=0.0, le=1.0, description="Added to the variance in layer norms.")
    causal: bool = Field(
        False, description="Each position attends only to itself and earlier ones (GPT-style)."
    )


@register
class TransformerEncoderLayer(LayerType):
    id = "transformer_encoder_layer"
    category = "attention"
    doc = "Self-attention plus feed-forward, each with a residual and layer norm; [N,L,d_model] in and out."
    Params = TransformerEncoderParams
    inputs = (Port("in", "[N,L,d_model]"),)
    examples = [
        {"params": {"nhead": 2, "dim_feedforward": 16}, "inputs": {"in": (2, 5, 8)}},
        {
            "params": {
                "nhead": 4,
                "dim_feedforward": 12,
                "activation": "gelu",
                "norm_first": True,
                "causal": True,
            },
            "inputs": {"in": (3, 4, 8)},
        },
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, TransformerEncoderParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, (3,), layouts={3: "[N,L,d_model]"})
        _divisible(self.id, "nhead", params.nhead, x, "in")
        return {"out": x}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        assert isinstance(params, TransformerEncoderParams)
        return [{"nhead": math.gcd(in_shapes["in"][-1], params.nhead)}]

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, TransformerEncoderParams)
        e, f = in_shapes["in"][-1], params.dim_feedforward
        return attention_params(e, e, e, True) + (e * f + f) + (f * e + e) + 4 * e

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, TransformerEncoderParams)
        n, length, e = in_shapes["in"]
        f, rows = params.dim_feedforward, n * length
        attention = attention_flops(n, length, length, e, e, e, params.nhead, True)
        feed_forward = 2 * rows * e * f + rows * f + rows * f + 2 * rows * f * e + rows * e
        norms_and_residuals = 2 * 4 * rows * e + 2 * rows * e
        return attention + feed_forward + norms_and_residuals

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, TransformerEncoderParams)
        return modules.TransformerEncoderLayer(
            in_shapes["in"][-1],
            params.nhead,
            params.dim_feedforward,
            dropout=params.dropout,
            activation=params.activation,
            norm_first=params.norm_first,
            layer_norm_eps=params.layer_norm_eps,
            causal=params.causal,
        )


class PositionalEncodingParams(LayerParams):
    kind: Literal["sinusoidal", "learned"] = Field(
        "sinusoidal", description="Fixed sine/cosine table, or a learned one."
    )
    max_len: int = Field(512, ge=1, le=MAX_SIZE, description="Longest sequence it can encode.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout after adding positions, while training.")


@register
class PositionalEncoding(LayerType):
    id = "positional_encoding"
    category = "attention"
    doc = "Adds a position signal to each step of [N,L,E] so attention can tell order."
    Params = PositionalEncodingParams
    inputs = (Port("in", "[N,L,E]"),)
    examples = [
        {"params": {"max_len": 16}, "inputs": {"in": (2, 5, 8)}},
        {"params": {"kind": "learned", "max_len": 6}, "inputs": {"in": (2, 6, 7)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, PositionalEncodingParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, (3,), layouts=SEQUENCE)
        if x[1] > params.max_len:
            raise ShapeError(
                f"{self.id} with max_len={params.max_len} can't encode sequences of length {x[1]} in {fmt(x)}"
            )
        return {"out": x}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        """max_len is the one size here that must cover the incoming shape: set it from it."""
        x = in_shapes["in"]
        return [{"max_len": x[1]}] if len(x) == 3 else []

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, PositionalEncodingParams)
        return params.max_len * in_shapes["in"][-1] if params.kind == "learned" else 0

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return numel(in_shapes["in"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, PositionalEncodingParams)
        return modules.PositionalEncoding(in_shapes["in"][-1], params.max_len, params.kind, params.dropout)
