"""Shared pieces of the built-in layer families: shape text, rank and dim checks, param types.

Messages follow one convention so the validator can name nodes in them: they start with the
layer id and say ``got <shape>`` for the input at fault; the validator turns that into
``conv2d 'c3' expects ... but 'fc1' gives [N,120]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..registry import LayerType, Shape, ShapeError

MAX_SIZE = 1 << 20  # largest channel count, feature count or spatial size a param may ask for
MAX_KERNEL = 1024

PosInt = Annotated[int, Field(ge=1, le=MAX_SIZE)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_SIZE)]
KernelInt = Annotated[int, Field(ge=1, le=MAX_KERNEL)]
PadInt = Annotated[int, Field(ge=0, le=MAX_KERNEL)]

LAYOUTS = {2: "[N,C]", 3: "[N,C,L]", 4: "[N,C,H,W]", 5: "[N,C,D,H,W]"}


class LayerParams(BaseModel):
    """Base of every built-in ``Params``: unknown keys are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def fmt(shape: Sequence[int]) -> str:
    """``(8, 120)`` -> ``[N,120]``: the first dimension is always the batch."""
    if not shape:
        return "[]"
    return "[" + ",".join(["N", *(str(d) for d in shape[1:])]) + "]"


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def ntuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    return tuple(value)


def expect_rank(
    layer_id: str,
    shape: Shape,
    ranks: Sequence[int],
    *,
    layouts: Mapping[int, str] = LAYOUTS,
    port: str = "in",
) -> None:
    """Raise unless ``len(shape)`` is one of ``ranks``; suggest reshape/flatten when obvious."""
    if len(shape) in ranks:
        return
    expected = " or ".join(f"{r}-D input {layouts.get(r, '')}".rstrip() for r in ranks)
    message = f"{layer_id} expects {expected} but got {fmt(shape)}"
    fix: dict[str, Any] | None = None
    if len(shape) < min(ranks):
        message += ": insert a reshape?"
        fix = {"insert": "reshape", "params": {"shape": _raised(shape, min(ranks))}}
    elif len(shape) > max(ranks):
        # Merge the trailing dims until the rank fits: [N,C,H,W] -> [N,C·H·W] (or [N,C,H·W]).
        message += ": insert a flatten?"
        fix = {"insert": "flatten"}
        if max(ranks) > 2:
            fix["params"] = {"start_dim": max(ranks) - 1}
    raise ShapeError(message, port=port, fix=fix)


def _raised(shape: Shape, rank: int) -> list[int]:
    """A per-sample shape of ``rank - 1`` dims holding the same values: one missing dim becomes
    a leading 1 ([N,F] -> [N,1,F]: one channel); more split the last size near-square with
    size-1 channels ([N,120] -> [N,1,10,12]: a one-channel image)."""
    missing, rest = rank - len(shape), list(shape[1:])
    if missing == 1 or not rest:
        return [1] * missing + rest
    last = rest.pop()
    short = max(d for d in range(1, math.isqrt(last) + 1) if last % d == 0)
    return rest + [1] * (missing - 1) + [short, last // short]


def expect_min_rank(layer_id: str, shape: Shape, rank: int, layout: str, port: str = "in") -> None:
    if len(shape) < rank:
        raise ShapeError(
            f"{layer_id} expects at least {rank}-D input {layout} but got {fmt(shape)}", port=port
        )


def norm_dim(layer_id: str, name: str, dim: int, shape: Shape, *, allow_batch: bool = False) -> int:
    """A PyTorch-style dim (batch included, negative from the end) made non-negative."""
    rank = len(shape)
    if not -rank <= dim < rank:
        raise ShapeError(
            f"{layer_id} {name}={dim} is out of range for {rank}-D input {fmt(shape)}",
            code="invalid_param",
        )
    dim %= rank
    if dim == 0 and not allow_batch:
        raise ShapeError(
            f"{layer_id} {name}={dim} is the batch dimension of {fmt(shape)}; pick a dimension from 1 on",
            code="invalid_param",
        )
    return dim


def window_out(
    layer_id: str,
    shape: Shape,
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool = False,
) -> tuple[int, ...]:
    """Spatial output size of a sliding window (conv, pooling), as ATen computes it."""
    out = []
    for axis, (size, k, s, p, d) in enumerate(zip(shape[2:], kernel, stride, padding, dilation, strict=True)):
        span = size + 2 * p - d * (k - 1) - 1
        n = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (n - 1) * s >= size + p:
            n -= 1
        if span < 0 or n < 1:
            raise ShapeError(
                f"{layer_id} input {fmt(shape)} is too small along dim {axis + 2}: kernel {k}, "
                f"dilation {d}, stride {s} and padding {p} leave no output"
            )
        out.append(n)
    return tuple(out)


def window_remedies(
    shape: Shape,
    kernel: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[Any, Any]:
    """For a window that overhangs a small input: the least padding per side that leaves an
    output, and the largest kernel that fits without more padding (one int when the axes agree)."""
    pad, fitted = [], []
    for size, k, p, d in zip(shape[2:], kernel, padding, dilation, strict=True):
        pad.append(max(p, -(-(d * (k - 1) + 1 - size) // 2)))
        fitted.append(max(1, min(k, (size + 2 * p - 1) // d + 1)))
    return _one_or_list(pad), _one_or_list(fitted)


def _one_or_list(values: Sequence[int]) -> int | list[int]:
    return values[0] if len(set(values)) == 1 else list(values)


class SameShape(LayerType):
    """A single-input layer whose output has its input's shape (activations, dropout...)."""

    flops_per_element: ClassVar[int] = 1

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        return {"out": in_shapes["in"]}

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return self.flops_per_element * numel(in_shapes["in"])
