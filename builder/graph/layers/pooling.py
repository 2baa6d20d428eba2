"""Pooling: max/avg over fixed windows and adaptive pools to a fixed output size.
FLOPs: one per window element per output (comparisons or adds); adaptive: one per input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator
from torch import nn

from ..registry import LayerType, Port, Shape, register
from ._base import (
    LAYOUTS,
    KernelInt,
    LayerParams,
    PadInt,
    PosInt,
    expect_rank,
    ntuple,
    numel,
    window_out,
    window_remedies,
)


class _PerAxis(LayerParams):
    dims: ClassVar[int] = 2

    @field_validator(
        "kernel_size", "stride", "padding", "dilation", "output_size", mode="after", check_fields=False
    )
    @classmethod
    def _one_per_axis(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) != cls.dims:
            raise ValueError(f"needs one int or a list of {cls.dims} ints (one per spatial axis)")
        return value


class _WindowPoolParams(_PerAxis):
    kernel_size: KernelInt | list[KernelInt] = Field(2, description="Window size.")
    stride: KernelInt | list[KernelInt] | None = Field(
        None, description="Step between windows (empty: the window size)."
    )
    padding: PadInt | list[PadInt] = Field(
        0, description="Implicit padding per side (at most half the window)."
    )
    ceil_mode: bool = Field(False, description="Round the output size up instead of down.")

    def window(self) -> tuple[tuple[int, ...], ...]:
        """Kernel, stride, padding and dilation, one entry per spatial axis."""
        n = self.dims
        k = ntuple(self.kernel_size, n)
        s = k if self.stride is None else ntuple(self.stride, n)
        return k, s, ntuple(self.padding, n), ntuple(getattr(self, "dilation", 1), n)

    @model_validator(mode="after")
    def _padding_fits(self) -> _WindowPoolParams:
        k, _, pad, d = self.window()
        if any(2 * p > (ki - 1) * di + 1 for p, ki, di in zip(pad, k, d, strict=True)):
            raise ValueError("padding must be at most half the window (kernel_size)")
        return self


class AvgPoolParams(_WindowPoolParams):
    count_include_pad: bool = Field(True, description="Count padded zeros when averaging.")


class MaxPoolParams(_WindowPoolParams):
    padding: PadInt | list[PadInt] = Field(
        0, description="Implicit -inf padding per side (at most half the window)."
    )
    dilation: KernelInt | list[KernelInt] = Field(1, description="Spacing between window taps.")


def _per_dims(base: type[_PerAxis], dims: int) -> type[_PerAxis]:
    return type(
        f"{base.__name__}{dims}d",
        (base,),
        {"__annotations__": {"dims": ClassVar[int]}, "dims": dims, "__module__": __name__},
    )


class Pool(LayerType):
    category = "pooling"
    dims: ClassVar[int]
    inputs = (Port("in", "feature map [N,C,...]"),)

    def _window(self, params: BaseModel) -> tuple[tuple[int, ...], ...]:
        assert isinstance(params, _WindowPoolParams)
        return params.window()

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        x = in_shapes["in"]
        expect_rank(self.id, x, (self.dims + 2,))
        k, s, pad, d = self._window(params)
        assert isinstance(params, _WindowPoolParams)
        spatial = window_out(self.id, x, k, s, pad, d, ceil_mode=params.ceil_mode)
        return {"out": (x[0], x[1], *spatial)}

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        """A window larger than the input: a kernel that fits (padding is capped at half the
        window, so the kernel comes first), with no padding if the smaller window refuses it."""
        x = in_shapes["in"]
        if len(x) != self.dims + 2:
            return []
        k, _, pad, d = self._window(params)
        _, fitted = window_remedies(x, k, pad, d)
        _, unpadded = window_remedies(x, k, (0,) * self.dims, d)
        return [{"kernel_size": fitted}, {"kernel_size": unpadded, "padding": 0}]

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return numel(self._window(params)[0]) * numel(out_shapes["out"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        k, s, pad, d = self._window(params)
        if isinstance(params, MaxPoolParams):
            cls: Any = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[self.dims - 1]
            return cls(k, s, pad, d, ceil_mode=params.ceil_mode)  # type: ignore[no-any-return]
        assert isinstance(params, AvgPoolParams)
        cls = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[self.dims - 1]
        return cls(k, s, pad, ceil_mode=params.ceil_mode, count_include_pad=params.count_include_pad)  # type: ignore[no-any-return]


class AdaptivePoolParams(_PerAxis):
    output_size: PosInt | list[PosInt] = Field(
        1, description="Output size per spatial axis (1: global pooling)."
    )


class AdaptivePool(LayerType):
    category = "pooling"
    dims: ClassVar[int]
    kind: ClassVar[str]

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        assert isinstance(params, AdaptivePoolParams)
        x = in_shapes["in"]
        expect_rank(self.id, x, (self.dims + 2,))
        return {"out": (x[0], x[1], *ntuple(params.output_size, self.dims))}

    def flops(
        self, params: BaseModel, in_shapes: Mapping[str, Shape], out_shapes: Mapping[str, Shape]
    ) -> int:
        return numel(in_shapes["in"])

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        assert isinstance(params, AdaptivePoolParams)
        classes: dict[str, tuple[Any, ...]] = {
            "avg": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
            "max": (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d),
        }
        return classes[self.kind][self.dims - 1](ntuple(params.output_size, self.dims))  # type: ignore[no-any-return]


_SAMPLES = {1: (2, 3, 11), 2: (2, 3, 9, 8), 3: (1, 2, 5, 6, 7)}


def _register_pools() -> None:
    """Twelve near-identical classes: generated here rather than written out."""
    for dims in (1, 2, 3):
        sample = _SAMPLES[dims]
        for kind, params_base in (("max", MaxPoolParams), ("avg", AvgPoolParams)):
            examples: list[dict[str, Any]] = [
                {"params": {}, "inputs": {"in": sample}},
                {
                    "params": {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                    "inputs": {"in": sample},
                },
            ]
            register(
                type(
                    f"{kind.title()}Pool{dims}d",
                    (Pool,),
                    {
                        "id": f"{kind}_pool{dims}d",
                        "dims": dims,
                        "__module__": __name__,
                        "doc": f"{'Max' if kind == 'max' else 'Average'} over sliding windows of {LAYOUTS[dims + 2]}.",
                        "Params": _per_dims(params_base, dims),
                        "examples": examples,
                    },
                )
            )
        for kind in ("avg", "max"):
            register(
                type(
                    f"Adaptive{kind.title()}Pool{dims}d",
                    (AdaptivePool,),
                    {
                        "id": f"adaptive_{kind}_pool{dims}d",
                        "dims": dims,
                        "kind": kind,
                        "__module__": __name__,
                        "doc": f"{'Average' if kind == 'avg' else 'Max'} pooling of {LAYOUTS[dims + 2]} to a fixed output size.",
                        "Params": _per_dims(AdaptivePoolParams, dims),
                        "examples": [
                            {"params": {}, "inputs": {"in": sample}},
                            {"params": {"output_size": 2}, "inputs": {"in": sample}},
                        ],
                    },
                )
            )


_register_pools()
