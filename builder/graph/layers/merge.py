"""Layers that combine tensors: add, multiply (broadcasting, like PyTorch), concat, and the
mean reduction. add/multiply/concat take ``num_inputs`` ports ``in0..in{n-1}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field
from torch import nn

from .. import modules
from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import LayerParams, fmt, norm_dim, numel

MAX_INPUTS = 64


class VariadicParams(LayerParams):
    num_inputs: int = Field(2, ge=2, le=MAX_INPUTS, description="Number of input ports (in0, in1, ...).")


def _listing(in_shapes: Mapping[str, Shape]) -> str:
    return ", ".join(f"{port} is {fmt(shape)}" for port, shape in in_shapes.items())


def broadcast(layer_id: str, in_shapes: Mapping[str, Shape]) -> Shape:
    """PyTorch broadcasting: align from the right; each size must match or be 1."""
    rank = max(len(s) for s in in_shapes.values())
    out = []
    for axis in range(1, rank + 1):
        sizes = [(port, s[-axis]) for port, s in in_shapes.items() if len(s) >= axis]
        wide = {size for _, size in sizes if size != 1}
        if len(wide) > 1:
            first_wide = next(size for _, size in sizes if size != 1)
            culprit = next(port for port, size in sizes if size not in (1, first_wide))
            reference = next(port for port, size in sizes if size == first_wide)
            raise ShapeError(
                f"{layer_id} expects inputs of one shape (or broadcastable) but {_listing(in_shapes)}",
                port=culprit,
                fix=resize_fix(in_shapes[culprit], in_shapes[reference]),
            )
        out.append(wide.pop() if wide else 1)
    return tuple(reversed(out))


def resize_fix(shape: Shape, target: Shape) -> dict[str, Any] | None:
    """A layer that maps ``shape`` onto ``target`` when they differ in one size only: a 1×1
    conv for channels ([N,C,...], C differs), a linear for features (the last size differs)."""
    differ = [i for i, (a, b) in enumerate(zip(shape, target, strict=False)) if a != b]
    if len(shape) != len(target) or len(differ) != 1:
        return None
    axis, rank = differ[0], len(shape)
    if axis == 1 and rank in (3, 4, 5):
        return {"insert": f"conv{rank - 2}d", "params": {"out_channels": target[1], "kernel_size": 1}}
    if axis == rank - 1 and rank in (2, 3):
        return {"insert": "linear", "params": {"out_features": target[-1]}}
    return None


class Elementwise(LayerType):
    category = "merge"
    Params = VariadicParams
    variadic_param = "num_inputs"
    inputs = (Port("in", "in0, in1, ...: tensors that broadcast together"),)
    op_name: ClassVar[str] = "Add"
    examples = [
        {"params": {}, "inputs": {"in0": (2, 4, 3, 3), "in1": (2, 4, 3, 3)}},
        {
            "params": {"num_inputs": 3},
            "inputs": {"in0": (2, 4, 3, 3), "in1": (1, 4, 1, 1), "in2": (2, 1, 3, 3)},
        },
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        return {"out": broadcast(self.id, in_shapes)}

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return (len(in_shapes) - 1) * numel(out_shapes["out"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        return modules.variadic_module(self.op_name, len(self.input_ports(params)))()


@register
class Add(Elementwise):
    id = "add"
    doc = "Sums its inputs elementwise (residual connections)."


@register
class Multiply(Elementwise):
    id = "multiply"
    doc = "Multiplies its inputs elementwise (gating, squeeze-excitation)."
    op_name = "Multiply"


class ConcatParams(VariadicParams):
    dim: int = Field(
        1, description="Dimension to join along (1: channels/features; batch is 0, not allowed)."
    )


@register
class Concat(LayerType):
    id = "concat"
    category = "merge"
    doc = "Joins its inputs along dim; all other sizes must match (DenseNet, U-Net skips)."
    Params = ConcatParams
    variadic_param = "num_inputs"
    inputs = (Port("in", "in0, in1, ...: tensors equal in all but dim"),)
    examples = [
        {"params": {}, "inputs": {"in0": (2, 3, 4, 4), "in1": (2, 5, 4, 4)}},
        {
            "params": {"num_inputs": 3, "dim": -1},
            "inputs": {"in0": (2, 3, 1), "in1": (2, 3, 2), "in2": (2, 3, 4)},
        },
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ConcatParams)
        first_port, first = next(iter(in_shapes.items()))
        dim = norm_dim(self.id, "dim", params.dim, first)
        for port, shape in in_shapes.items():
            same_rank = len(shape) == len(first)
            if not same_rank or any(
                a != b for i, (a, b) in enumerate(zip(shape, first, strict=True)) if i != dim
            ):
                raise ShapeError(
                    f"{self.id} along dim {params.dim} expects inputs equal in every other dimension but {_listing(in_shapes)}",
                    port=port,
                )
        total = sum(shape[dim] for shape in in_shapes.values())
        return {"out": (*first[:dim], total, *first[dim + 1 :])}

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        kinds = set(in_dtypes.values())
        if len(kinds) > 1:
            raise ShapeError(
                f"{self.id} got both token ids and float values: their dtypes must match",
                code="dtype_mismatch",
            )
        return {"out": kinds.pop() if kinds else "float32"}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ConcatParams)
        return modules.variadic_module("Concat", params.num_inputs)(params.dim)


class MeanParams(LayerParams):
    dims: list[int] = Field(
        [1], min_length=1, max_length=8, description="Dimensions to average over (batch is 0, not allowed)."
    )
    keepdim: bool = Field(False, description="Keep the averaged dimensions with size 1.")


@register
class Mean(LayerType):
    id = "mean"
    category = "merge"
    doc = "Averages over dims, e.g. [1] pools a sequence [N,L,E] to [N,E], [2,3] pools an image."
    Params = MeanParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 5, 4)}},
        {"params": {"dims": [2, -1], "keepdim": True}, "inputs": {"in": (2, 3, 4, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, MeanParams)
        x = in_shapes["in"]
        dims = {norm_dim(self.id, "dims", d, x) for d in params.dims}
        if len(dims) != len(params.dims):
            raise ShapeError(f"{self.id} dims {params.dims} name a dimension twice", code="invalid_param")
        if params.keepdim:
            return {"out": tuple(1 if i in dims else s for i, s in enumerate(x))}
        return {"out": tuple(s for i, s in enumerate(x) if i not in dims)}

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return numel(in_shapes["in"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, MeanParams)
        return modules.Mean(params.dims, params.keepdim)
