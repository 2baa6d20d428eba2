"""Graph inputs: each becomes one argument of the compiled ``forward``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, Field
from torch import nn

from ..registry import LayerType, Port, Shape, register
from ._base import LayerParams, PosInt


class InputLayer(LayerType):
    """An input has no ports to feed it; its sample shape comes from its params alone."""

    category = "input"
    inputs = ()
    outputs = (Port("out", "the batch fed to forward()"),)
    is_input = True
    dtype: ClassVar[str] = "float32"

    def sample_shape(self, params: BaseModel) -> Shape:
        raise NotImplementedError

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        # The validator puts its own batch size first; a bare infer() assumes a batch of 1.
        return {"out": (1, *self.sample_shape(params))}

    def output_dtypes(self, params: BaseModel, in_dtypes: Mapping[str, str]) -> dict[str, str]:
        return {"out": self.dtype}

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        return nn.Identity()


class ImageParams(LayerParams):
    channels: PosInt = Field(3, description="Colour channels (3 for RGB, 1 for greyscale).")
    height: PosInt = Field(32, description="Image height in pixels.")
    width: PosInt = Field(32, description="Image width in pixels.")


@register
class ImageInput(InputLayer):
    id = "image_input"
    doc = "A batch of images [N,C,H,W]."
    Params = ImageParams
    examples = [{"params": {"channels": 3, "height": 8, "width": 6}, "inputs": {}}]

    def sample_shape(self, params: BaseModel) -> Shape:
        assert isinstance(params, ImageParams)
        return (params.channels, params.height, params.width)


class VolumeParams(LayerParams):
    channels: PosInt = Field(1, description="Channels per voxel.")
    depth: PosInt = Field(16, description="Depth in voxels (slices).")
    height: PosInt = Field(32, description="Height in voxels.")
    width: PosInt = Field(32, description="Width in voxels.")


@register
class VolumeInput(InputLayer):
    id = "volume_input"
    doc = "A batch of 3-D volumes [N,C,D,H,W] (CT scans, video clips)."
    Params = VolumeParams
    examples = [{"params": {"channels": 1, "depth": 4, "height": 5, "width": 6}, "inputs": {}}]

    def sample_shape(self, params: BaseModel) -> Shape:
        assert isinstance(params, VolumeParams)
        return (params.channels, params.depth, params.height, params.width)


class VectorParams(LayerParams):
    features: PosInt = Field(16, description="Features per sample.")


@register
class VectorInput(InputLayer):
    id = "vector_input"
    doc = "A batch of feature vectors [N,F] (tabular data)."
    Params = VectorParams
    examples = [{"params": {"features": 10}, "inputs": {}}]

    def sample_shape(self, params: BaseModel) -> Shape:
        assert isinstance(params, VectorParams)
        return (params.features,)


class SequenceParams(LayerParams):
    seq_len: PosInt = Field(32, description="Time steps per sequence.")
    features: PosInt = Field(16, description="Features per time step.")


@register
class SequenceInput(InputLayer):
    id = "sequence_input"
    doc = "A batch of float sequences [N,L,F] (time series, audio frames)."
    Params = SequenceParams
    examples = [{"params": {"seq_len": 7, "features": 5}, "inputs": {}}]

    def sample_shape(self, params: BaseModel) -> Shape:
        assert isinstance(params, SequenceParams)
        return (params.seq_len, params.features)


class TokenParams(LayerParams):
    seq_len: PosInt = Field(32, description="Tokens per sequence.")
    vocab_size: PosInt = Field(1000, description="Number of distinct token ids (ids run 0..vocab_size-1).")


@register
class TokenInput(InputLayer):
    id = "token_input"
    doc = "A batch of token id sequences [N,L] (int64), to feed an embedding."
    Params = TokenParams
    dtype = "int64"
    examples = [{"params": {"seq_len": 9, "vocab_size": 50}, "inputs": {}}]

    def sample_shape(self, params: BaseModel) -> Shape:
        assert isinstance(params, TokenParams)
        return (params.seq_len,)
