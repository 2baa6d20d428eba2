"""Recurrent layers (batch-first). Each gives the whole output sequence on ``out`` and the top
layer's final hidden state on ``last`` (both directions side by side), ready for a classifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field
from torch import nn

from .. import modules
from ..registry import LayerType, Port, Shape, register
from ._base import LayerParams, PosInt, expect_rank


class RecurrentParams(LayerParams):
    hidden_size: PosInt = Field(64, description="Size of the hidden state per direction.")
    num_layers: int = Field(1, ge=1, le=16, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Also run right-to-left; doubles the output size.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between stacked layers while training.")
    bias: bool = Field(True, description="Learn biases in the gates.")


class Recurrent(LayerType):
    category = "recurrent"
    Params = RecurrentParams
    inputs = (Port("in", "[N,L,F] sequence"),)
    outputs = (
        Port("out", "[N,L,hidden·directions]: the output at every step"),
        Port("last", "[N,hidden·directions]: the final hidden state of the top layer"),
    )
    gates: ClassVar[int]
    gate_flops: ClassVar[int]  # elementwise work per hidden unit per step
    examples = [
        {"params": {"hidden_size": 6}, "inputs": {"in": (2, 5, 4)}},
        {
            "params": {"hidden_size": 3, "num_layers": 2, "bidirectional": True, "bias": False},
            "inputs": {"in": (3, 4, 5)},
        },
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, RecurrentParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, (3,), layouts={3: "[N,L,F]"})
        width = params.hidden_size * (2 if params.bidirectional else 1)
        return {"out": (x[0], x[1], width), "last": (x[0], width)}

    def _layer_inputs(self, params: RecurrentParams, features: int) -> list[int]:
        width = params.hidden_size * (2 if params.bidirectional else 1)
        return [features] + [width] * (params.num_layers - 1)

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, RecurrentParams)
        g, h = self.gates * params.hidden_size, params.hidden_size
        dirs = 2 if params.bidirectional else 1
        per_dir = sum(
            g * (fin + h) + (2 * g if params.bias else 0)
            for fin in self._layer_inputs(params, in_shapes["in"][-1])
        )
        return dirs * per_dir

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, RecurrentParams)
        n, length, features = in_shapes["in"]
        g, h = self.gates * params.hidden_size, params.hidden_size
        dirs = 2 if params.bidirectional else 1
        per_step = sum(
            2 * g * (fin + h) + (2 * g if params.bias else 0) + self.gate_flops * h
            for fin in self._layer_inputs(params, features)
        )
        return n * length * dirs * per_step

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, RecurrentParams)
        cls = modules.LSTMLayer if self.gates == 4 else modules.GRULayer
        return cls(
            in_shapes["in"][-1],
            params.hidden_size,
            params.num_layers,
            params.bidirectional,
            params.dropout,
            params.bias,
        )


@register
class LSTM(Recurrent):
    id = "lstm"
    doc = "Long short-term memory over [N,L,F]."
    gates = 4
    gate_flops = 9


@register
class GRU(Recurrent):
    id = "gru"
    doc = "Gated recurrent unit over [N,L,F] (lighter than an LSTM)."
    gates = 3
    gate_flops = 8
