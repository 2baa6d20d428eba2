"""Layers that move values around without arithmetic (0 FLOPs): flatten, reshape, permute,
transpose, channel_shuffle, identity, chunk, select, expand_batch. Dims count the batch as dim 0,
like PyTorch; none of these may move or merge the batch dimension (expand_batch only repeats a
batch of 1 to the batch size)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, model_validator
from torch import nn

from .. import modules
from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import MAX_SIZE, LayerParams, PosInt, expect_rank, fmt, norm_dim, numel


class PassThroughDtype(LayerType):
    """Shape-only layers carry token ids as happily as floats."""

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        return {"out": next(iter(in_dtypes.values()), "float32")}


class FlattenParams(LayerParams):
    start_dim: int = Field(1, description="First dimension to merge (1: everything after the batch).")
    end_dim: int = Field(-1, description="Last dimension to merge (-1: the last one).")


@register
class Flatten(PassThroughDtype):
    id = "flatten"
    category = "shape"
    doc = "Merges dimensions start_dim..end_dim into one: [N,C,H,W] -> [N,C·H·W]."
    Params = FlattenParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 3, 4, 5)}},
        {"params": {"start_dim": 2}, "inputs": {"in": (2, 3, 4, 5)}},
        {"params": {"start_dim": 1, "end_dim": 2}, "inputs": {"in": (2, 3, 4, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, FlattenParams)
        x = in_shapes["in"]
        start = norm_dim(self.id, "start_dim", params.start_dim, x)
        end = norm_dim(self.id, "end_dim", params.end_dim, x)
        if start > end:
            raise ShapeError(
                f"{self.id} start_dim={params.start_dim} comes after end_dim={params.end_dim} for {fmt(x)}",
                code="invalid_param",
            )
        return {"out": (*x[:start], numel(x[start : end + 1]), *x[end + 1 :])}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, FlattenParams)
        return nn.Flatten(params.start_dim, params.end_dim)


class ReshapeParams(LayerParams):
    shape: list[int] = Field(
        [-1],
        min_length=1,
        max_length=8,
        description="Shape of each sample, batch excluded; one entry may be -1 (inferred).",
    )

    @model_validator(mode="after")
    def _one_wildcard(self) -> ReshapeParams:
        if self.shape.count(-1) > 1:
            raise ValueError("only one entry of shape may be -1")
        if any(d == 0 or d < -1 or d > MAX_SIZE for d in self.shape):
            raise ValueError("shape entries must be positive (or a single -1)")
        return self


def _features_fix(x: Shape, wanted: int) -> dict[str, Any] | None:
    """A linear in front that gives ``wanted`` values per sample (it resizes the last dim)."""
    rows = numel(x[1:-1])
    if len(x) < 2 or wanted % rows:
        return None
    return {"insert": "linear", "params": {"out_features": wanted // rows}}


@register
class Reshape(PassThroughDtype):
    id = "reshape"
    category = "shape"
    doc = "Gives each sample a new shape with the same number of values: [N,120] -> [N,30,2,2]."
    Params = ReshapeParams
    examples = [
        {"params": {"shape": [4, 3, 2]}, "inputs": {"in": (2, 24)}},
        {"params": {"shape": [-1, 4]}, "inputs": {"in": (3, 2, 6)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ReshapeParams)
        x = in_shapes["in"]
        per_sample = numel(x[1:])
        known = numel([d for d in params.shape if d != -1])
        target = "[N," + ",".join(str(d) for d in params.shape) + "]"
        if -1 in params.shape:
            if per_sample % known:
                raise ShapeError(
                    f"{self.id} to {target} needs a multiple of {known} values per sample but got {fmt(x)} ({per_sample} values)",
                    fix=_features_fix(x, known * max(1, round(per_sample / known))),
                )
            return {"out": (x[0], *(per_sample // known if d == -1 else d for d in params.shape))}
        if known != per_sample:
            raise ShapeError(
                f"{self.id} to {target} needs {known} values per sample but got {fmt(x)} ({per_sample} values)",
                fix=_features_fix(x, known),
            )
        return {"out": (x[0], *params.shape)}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ReshapeParams)
        return modules.Reshape(params.shape)


class PermuteParams(LayerParams):
    dims: list[int] = Field(
        [0, 2, 1],
        min_length=1,
        max_length=8,
        description="New order of all dimensions, batch included; must start with 0 (the batch stays first).",
    )


@register
class Permute(PassThroughDtype):
    id = "permute"
    category = "shape"
    doc = "Reorders dimensions like torch.permute, e.g. [0,2,3,1] turns [N,C,H,W] into [N,H,W,C]."
    Params = PermuteParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 3, 5)}},
        {"params": {"dims": [0, 2, 3, 1]}, "inputs": {"in": (2, 3, 4, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, PermuteParams)
        x = in_shapes["in"]
        if len(params.dims) != len(x):
            raise ShapeError(
                f"{self.id} dims {params.dims} name {len(params.dims)} dimensions but got {len(x)}-D input {fmt(x)}"
            )
        dims = [d % len(x) if -len(x) <= d < len(x) else -1 for d in params.dims]
        if sorted(dims) != list(range(len(x))):
            raise ShapeError(
                f"{self.id} dims {params.dims} must list each of 0..{len(x) - 1} once", code="invalid_param"
            )
        if dims[0] != 0:
            raise ShapeError(
                f"{self.id} dims must start with 0: the batch dimension stays first", code="invalid_param"
            )
        return {"out": tuple(x[d] for d in dims)}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, PermuteParams)
        return modules.Permute(params.dims)


class TransposeParams(LayerParams):
    dim0: int = Field(1, description="First dimension to swap (batch is 0, not allowed).")
    dim1: int = Field(2, description="Second dimension to swap.")


@register
class Transpose(PassThroughDtype):
    id = "transpose"
    category = "shape"
    doc = "Swaps two dimensions, e.g. [N,C,L] <-> [N,L,C] between conv1d and attention."
    Params = TransposeParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 3, 5)}},
        {"params": {"dim0": -1, "dim1": 1}, "inputs": {"in": (2, 3, 4, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, TransposeParams)
        x = list(in_shapes["in"])
        a = norm_dim(self.id, "dim0", params.dim0, in_shapes["in"])
        b = norm_dim(self.id, "dim1", params.dim1, in_shapes["in"])
        x[a], x[b] = x[b], x[a]
        return {"out": tuple(x)}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, TransposeParams)
        return modules.Transpose(params.dim0, params.dim1)


class ChannelShuffleParams(LayerParams):
    groups: PosInt = Field(2, description="Channel groups to interleave (channels must divide).")


@register
class ChannelShuffle(LayerType):
    id = "channel_shuffle"
    category = "shape"
    doc = "Interleaves channels across groups (ShuffleNet), [N,C,H,W] -> [N,C,H,W]."
    Params = ChannelShuffleParams
    examples = [{"params": {"groups": 3}, "inputs": {"in": (2, 6, 3, 4)}}]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ChannelShuffleParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, (4,))
        if x[1] % params.groups:
            raise ShapeError(
                f"{self.id} with groups={params.groups} needs channels divisible by {params.groups} but got {fmt(x)}"
            )
        return {"out": x}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ChannelShuffleParams)
        return modules.ChannelShuffle(params.groups)


@register
class Identity(PassThroughDtype):
    id = "identity"
    category = "shape"
    doc = "Passes its input through unchanged (a named junction on the canvas)."
    examples = [{"params": {}, "inputs": {"in": (2, 3)}}]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        return {"out": in_shapes["in"]}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        return nn.Identity()


class ChunkParams(LayerParams):
    chunks: int = Field(2, ge=2, le=64, description="Number of pieces, and of output ports (out0, out1, ...).")
    dim: int = Field(1, description="Dimension to split (1: channels/features; batch is 0, not allowed).")


@register
class Chunk(LayerType):
    id = "chunk"
    category = "shape"
    doc = "Splits its input along dim into chunks pieces, like torch.chunk: [N,8,H,W] -> 2 x [N,4,H,W]."
    Params = ChunkParams
    variadic_outputs_param = "chunks"
    outputs = (Port("out", "out0, out1, ...: the pieces in order; the last may be smaller"),)
    examples = [
        {"params": {}, "inputs": {"in": (2, 6, 3, 3)}},
        {"params": {"chunks": 3, "dim": -1}, "inputs": {"in": (2, 4, 7)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ChunkParams)
        x = in_shapes["in"]
        dim = norm_dim(self.id, "dim", params.dim, x)
        # torch.chunk's rule: pieces of ceil(size / chunks), so it may give fewer than asked for.
        step = -(-x[dim] // params.chunks)
        pieces = -(-x[dim] // step)
        if pieces != params.chunks:
            raise ShapeError(
                f"{self.id} into {params.chunks} along dim {params.dim} needs at least {params.chunks} "
                f"values along it (and sizes torch.chunk can split that many ways) but got {fmt(x)}, "
                f"which gives {pieces} piece(s)"
            )
        sizes = [step] * (pieces - 1) + [x[dim] - step * (pieces - 1)]
        return {f"out{i}": (*x[:dim], size, *x[dim + 1 :]) for i, size in enumerate(sizes)}

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        return {port: in_dtypes.get("in", "float32") for port in self.output_ports(params)}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ChunkParams)
        return modules.chunk_module(params.chunks)(params.dim)


class SelectParams(LayerParams):
    dim: int = Field(1, description="Dimension to index (batch is 0, not allowed); it disappears.")
    index: int = Field(
        0, ge=-MAX_SIZE, le=MAX_SIZE, description="Position along dim; negative counts from the end (-1: last)."
    )


@register
class Select(PassThroughDtype):
    id = "select"
    category = "shape"
    doc = "Takes one position along dim and drops that dim, like x[:, 0]: [N,L,E] -> [N,E] (ViT's class token)."
    Params = SelectParams
    examples = [
        {"params": {}, "inputs": {"in": (2, 5, 4)}},
        {"params": {"dim": -1, "index": -2}, "inputs": {"in": (2, 3, 4, 5)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, SelectParams)
        x = in_shapes["in"]
        dim = norm_dim(self.id, "dim", params.dim, x)
        if not -x[dim] <= params.index < x[dim]:
            raise ShapeError(
                f"{self.id} index {params.index} is out of range for size {x[dim]} along dim {params.dim} of {fmt(x)}",
                code="invalid_param",
            )
        return {"out": (*x[:dim], *x[dim + 1 :])}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, SelectParams)
        return modules.Select(params.dim, params.index)


@register
class ExpandBatch(LayerType):
    id = "expand_batch"
    category = "shape"
    doc = (
        "Repeats a batch-1 tensor [1,*S] (a parameter such as ViT's class token) to the batch size "
        "of 'like', giving [N,*S] that can be concatenated with it."
    )
    inputs = (
        Port("in", "[1,*S]: the tensor to repeat, usually a parameter"),
        Port("like", "any tensor of the batch: only its batch size is used"),
    )
    examples = [
        {"params": {}, "inputs": {"in": (1, 1, 4), "like": (3, 5, 4)}},
        {"params": {}, "inputs": {"in": (2, 3), "like": (2, 7, 7)}},
    ]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x, like = in_shapes["in"], in_shapes["like"]
        if x[0] not in (1, like[0]):
            raise ShapeError(
                f"{self.id} repeats a batch of 1 (or leaves one of the right size) but got {fmt(x)} "
                f"with batch {x[0]} where 'like' has batch {like[0]}",
                port="in",
            )
        return {"out": (like[0], *x[1:])}

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        return {"out": in_dtypes.get("in", "float32")}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        return modules.ExpandBatch()
