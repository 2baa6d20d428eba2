"""Convolutions: conv1d/2d/3d and the transposed conv1d/2d/3d. ``in_channels`` comes from the
input shape, so only what the person chooses is a parameter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from torch import nn

from ..registry import LayerType, Port, Shape, ShapeError, register
from ._base import (
    LAYOUTS,
    KernelInt,
    LayerParams,
    PadInt,
    PosInt,
    expect_rank,
    fmt,
    ntuple,
    numel,
    window_out,
    window_remedies,
)

_SIZES = ("kernel_size", "stride", "padding", "dilation", "output_padding")


class _WindowParams(LayerParams):
    dims: ClassVar[int] = 2

    out_channels: PosInt = Field(16, description="Number of output channels (filters).")
    kernel_size: KernelInt | list[KernelInt] = Field(
        3, description="Kernel size: one int, or one per spatial dimension."
    )
    stride: KernelInt | list[KernelInt] = Field(1, description="Step between windows.")
    padding: PadInt | list[PadInt] | Literal["same", "valid"] = Field(
        0, description="Zero padding per side: an int, one per axis, 'same' or 'valid'."
    )
    dilation: KernelInt | list[KernelInt] = Field(1, description="Spacing between kernel taps.")
    groups: PosInt = Field(
        1, description="Split channels into this many independent groups (depthwise: = channels)."
    )
    bias: bool = Field(True, description="Learn an additive bias per output channel.")

    @field_validator(*_SIZES, mode="after", check_fields=False)
    @classmethod
    def _one_per_axis(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) != cls.dims:
            raise ValueError(f"needs one int or a list of {cls.dims} ints (one per spatial axis)")
        return value

    @model_validator(mode="after")
    def _groups_divide(self) -> _WindowParams:
        if self.out_channels % self.groups:
            raise ValueError(
                f"out_channels ({self.out_channels}) must be divisible by groups ({self.groups})"
            )
        return self


class ConvParams(_WindowParams):
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field(
        "zeros", description="How padded values are filled."
    )

    @model_validator(mode="after")
    def _same_needs_stride_1(self) -> ConvParams:
        if self.padding == "same" and any(s != 1 for s in ntuple(self.stride, self.dims)):
            raise ValueError("padding='same' needs stride 1")
        return self


class Conv1dParams(ConvParams):
    dims: ClassVar[int] = 1


class Conv2dParams(ConvParams):
    dims: ClassVar[int] = 2


class Conv3dParams(ConvParams):
    dims: ClassVar[int] = 3


class ConvLayer(LayerType):
    category = "convolution"
    inputs = (Port("in", "feature map [N,C,...]"),)
    outputs = (Port("out", "feature map [N,out_channels,...]"),)
    dims: ClassVar[int]
    transposed: ClassVar[bool] = False

    def _check_channels(self, p: _WindowParams, x: Shape) -> int:
        expect_rank(self.id, x, (self.dims + 2,))
        cin = x[1]
        if cin % p.groups:
            raise ShapeError(
                f"{self.id} has groups={p.groups} but got {fmt(x)} whose {cin} channels "
                f"are not divisible by {p.groups}"
            )
        return cin

    def _padding(self, p: ConvParams, k: tuple[int, ...], d: tuple[int, ...]) -> tuple[int, ...]:
        if p.padding == "valid":
            return (0,) * self.dims
        if p.padding == "same":
            return tuple(-(-(di * (ki - 1)) // 2) for ki, di in zip(k, d, strict=True))  # the larger side
        return ntuple(p.padding, self.dims)

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ConvParams)
        x = in_shapes["in"]
        self._check_channels(params, x)
        k, d = ntuple(params.kernel_size, self.dims), ntuple(params.dilation, self.dims)
        pad = self._padding(params, k, d)
        for size, pd in zip(x[2:], pad, strict=True):
            mode = params.padding_mode
            if mode == "reflect" and pd >= size or mode == "circular" and pd > size:
                raise ShapeError(f"{self.id} {mode} padding of {pd} is too large for {fmt(x)}")
        if params.padding == "same":
            spatial: tuple[int, ...] = tuple(x[2:])
        else:
            spatial = window_out(self.id, x, k, ntuple(params.stride, self.dims), pad, d)
        return {"out": (x[0], params.out_channels, *spatial)}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        """Too small an input: padding 'same' (stride 1), else the least padding, else a kernel
        that fits; too much reflect/circular padding: zeros; channels the groups don't divide:
        the largest groups that divides both channel counts."""
        assert isinstance(params, ConvParams)
        x = in_shapes["in"]
        if len(x) != self.dims + 2:
            return []
        k, d = ntuple(params.kernel_size, self.dims), ntuple(params.dilation, self.dims)
        pad, fitted = window_remedies(x, k, self._padding(params, k, d), d)
        out: list[dict[str, Any]] = []
        if all(s == 1 for s in ntuple(params.stride, self.dims)):
            out.append({"padding": "same"})
        out += [{"padding": pad}, {"kernel_size": fitted}, {"padding_mode": "zeros"}]
        return [*out, {"groups": math.gcd(x[1], params.groups, params.out_channels)}]

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        assert isinstance(params, _WindowParams)
        cin = in_shapes["in"][1]
        k = numel(ntuple(params.kernel_size, self.dims))
        return cin * params.out_channels // params.groups * k + (params.out_channels if params.bias else 0)

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        assert isinstance(params, _WindowParams)
        x, y = in_shapes["in"], out_shapes["out"]
        k = numel(ntuple(params.kernel_size, self.dims))
        # A regular conv does one dot product per output position, a transposed one per input.
        positions = numel(x) // x[1] if self.transposed else numel(y) // y[1]
        macs = positions * (x[1] * params.out_channels // params.groups) * k
        return 2 * macs + (numel(y) if params.bias else 0)

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ConvParams)
        cls: Any = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[self.dims - 1]
        return cls(
            in_shapes["in"][1],
            params.out_channels,
            ntuple(params.kernel_size, self.dims),
            stride=ntuple(params.stride, self.dims),
            padding=params.padding if isinstance(params.padding, str) else ntuple(params.padding, self.dims),
            dilation=ntuple(params.dilation, self.dims),
            groups=params.groups,
            bias=params.bias,
            padding_mode=params.padding_mode,
        )


@register
class Conv1d(ConvLayer):
    id = "conv1d"
    doc = f"1-D convolution over {LAYOUTS[3]} (sequences, audio)."
    Params = Conv1dParams
    dims = 1
    examples = [
        {
            "params": {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1},
            "inputs": {"in": (2, 4, 11)},
        },
        {
            "params": {"out_channels": 4, "kernel_size": 4, "padding": "same", "padding_mode": "reflect"},
            "inputs": {"in": (1, 2, 9)},
        },
    ]


@register
class Conv2d(ConvLayer):
    id = "conv2d"
    doc = f"2-D convolution over images {LAYOUTS[4]}."
    Params = Conv2dParams
    dims = 2
    examples = [
        {"params": {"out_channels": 8, "kernel_size": 3, "padding": 1}, "inputs": {"in": (2, 3, 10, 9)}},
        {
            "params": {
                "out_channels": 6,
                "kernel_size": [3, 2],
                "stride": [2, 1],
                "dilation": 2,
                "groups": 3,
                "bias": False,
            },
            "inputs": {"in": (1, 6, 12, 7)},
        },
        {"params": {"out_channels": 4, "padding": "same", "dilation": 2}, "inputs": {"in": (2, 3, 5, 5)}},
    ]


@register
class Conv3d(ConvLayer):
    id = "conv3d"
    doc = f"3-D convolution over volumes {LAYOUTS[5]}."
    Params = Conv3dParams
    dims = 3
    examples = [
        {
            "params": {"out_channels": 4, "kernel_size": 3, "padding": 1, "stride": 2},
            "inputs": {"in": (2, 2, 5, 6, 7)},
        }
    ]


class ConvTransposeParams(_WindowParams):
    padding: PadInt | list[PadInt] = Field(0, description="Removes this much from each side of the output.")
    output_padding: PadInt | list[PadInt] = Field(
        0, description="Extra size added to one side of the output (less than stride or dilation)."
    )

    @model_validator(mode="after")
    def _output_padding_small(self) -> ConvTransposeParams:
        pairs = zip(
            ntuple(self.output_padding, self.dims),
            ntuple(self.stride, self.dims),
            ntuple(self.dilation, self.dims),
            strict=True,
        )
        if any(op >= max(s, d) for op, s, d in pairs):
            raise ValueError("output_padding must be smaller than stride or dilation")
        return self


class ConvTranspose1dParams(ConvTransposeParams):
    dims: ClassVar[int] = 1


class ConvTranspose2dParams(ConvTransposeParams):
    dims: ClassVar[int] = 2


class ConvTranspose3dParams(ConvTransposeParams):
    dims: ClassVar[int] = 3


class ConvTransposeLayer(ConvLayer):
    transposed = True

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, ConvTransposeParams)
        x = in_shapes["in"]
        self._check_channels(params, x)
        n = self.dims
        spatial = []
        for size, k, s, p, d, op in zip(
            x[2:],
            ntuple(params.kernel_size, n),
            ntuple(params.stride, n),
            ntuple(params.padding, n),
            ntuple(params.dilation, n),
            ntuple(params.output_padding, n),
            strict=True,
        ):
            out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            if out < 1:
                raise ShapeError(f"{self.id} padding {p} leaves no output for {fmt(x)}")
            spatial.append(out)
        return {"out": (x[0], params.out_channels, *spatial)}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        assert isinstance(params, ConvTransposeParams)
        return [{"padding": 0}, {"groups": math.gcd(in_shapes["in"][1], params.groups, params.out_channels)}]

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, ConvTransposeParams)
        cls: Any = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[self.dims - 1]
        n = self.dims
        return cls(
            in_shapes["in"][1],
            params.out_channels,
            ntuple(params.kernel_size, n),
            stride=ntuple(params.stride, n),
            padding=ntuple(params.padding, n),
            output_padding=ntuple(params.output_padding, n),
            groups=params.groups,
            bias=params.bias,
            dilation=ntuple(params.dilation, n),
        )


@register
class ConvTranspose1d(ConvTransposeLayer):
    id = "conv_transpose1d"
    doc = "Transposed 1-D convolution (learned upsampling of sequences)."
    Params = ConvTranspose1dParams
    dims = 1
    examples = [
        {
            "params": {"out_channels": 3, "kernel_size": 4, "stride": 2, "padding": 1},
            "inputs": {"in": (2, 4, 6)},
        }
    ]


@register
class ConvTranspose2d(ConvTransposeLayer):
    id = "conv_transpose2d"
    doc = "Transposed 2-D convolution (learned upsampling of images)."
    Params = ConvTranspose2dParams
    dims = 2
    examples = [
        {
            "params": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
            "inputs": {"in": (2, 6, 5, 4)},
        },
        {
            "params": {"out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 2, "bias": False},
            "inputs": {"in": (1, 2, 3, 3)},
        },
    ]


@register
class ConvTranspose3d(ConvTransposeLayer):
    id = "conv_transpose3d"
    doc = "Transposed 3-D convolution (learned upsampling of volumes)."
    Params = ConvTranspose3dParams
    dims = 3
    examples = [
        {"params": {"out_channels": 2, "kernel_size": 2, "stride": 2}, "inputs": {"in": (1, 3, 2, 3, 4)}}
    ]
