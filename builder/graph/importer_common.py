"""Small pieces shared by the importer's conversion rules."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import fx
from torch.fx.passes.shape_prop import TensorMetadata

from .registry import Shape


class Unsupported(Exception):
    """Raised by a rule: this node can't become a layer; the message says why."""


@dataclass
class Op:
    """One layer for one fx node.

    ``inputs`` are the fx values feeding the layer's input ports in order (``None`` leaves an
    optional port unconnected). ``weights`` maps the built module's ``state_dict`` keys to
    tensors; ``None`` means "the called module's own ``state_dict``". ``tuple_ports`` is set when
    the original call returned a tuple: element ``i`` is the layer's output port (or ``None``
    when that element has no equivalent). ``label`` is the path of the module a function call
    stands for (torchvision's ``StochasticDepth`` module only calls ``stochastic_depth``): the
    node is then named and labelled after that module, as a ``call_module`` node is.
    """

    type: str
    params: dict[str, Any]
    inputs: list[Any]
    weights: dict[str, torch.Tensor] | None = None
    tuple_ports: tuple[str | None, ...] | None = None
    label: str | None = None


@dataclass
class Same:
    """The node's value is ``source``'s value, unchanged."""

    source: Any


def arg(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    """Argument ``index`` of a call, or keyword ``name``, or ``default``."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def is_tensor(value: Any) -> bool:
    return isinstance(value, fx.Node) and isinstance(value.meta.get("tensor_meta"), TensorMetadata)


def shape(value: Any) -> Shape:
    """Traced shape of a tensor-valued fx node (``ShapeProp`` ran before the rules)."""
    if not is_tensor(value):
        raise Unsupported(f"expected a tensor, got {value!r}")
    return tuple(value.meta["tensor_meta"].shape)


def compact(value: int | Sequence[int]) -> int | list[int]:
    """``(3, 3)`` -> ``3``; ``(3, 1)`` -> ``[3, 1]``: the form a person would type."""
    if isinstance(value, int):
        return value
    values = [int(v) for v in value]
    return values[0] if len(set(values)) == 1 else values


def norm_dim(dim: int, rank: int) -> int:
    if not -rank <= dim < rank:
        raise Unsupported(f"dim {dim} out of range for rank {rank}")
    return dim % rank


class Context(Protocol):
    def attribute(self, node: fx.Node) -> torch.Tensor | None:
        """The tensor a ``get_attr`` node reads, else ``None``."""


Rule = Callable[[fx.Node, Any, Context], "Op | Same"]


def only_input(node: fx.Node) -> list[Any]:
    if len(node.args) != 1 or node.kwargs:
        raise Unsupported("called with extra arguments")
    return [node.args[0]]


# ---- layers built from several kinds of call ------------------------------------------
def adaptive_op(kind: str, node: fx.Node, inputs: list[Any]) -> Op:
    out = shape(node)
    return Op(f"adaptive_{kind}_pool{len(out) - 2}d", {"output_size": compact(out[2:])}, inputs)


def flatten_op(node: fx.Node, x: Any, start: int, end: int) -> Op:
    rank = len(shape(x))
    if norm_dim(start, rank) == 0:
        raise Unsupported("flattening the batch dimension")
    return Op("flatten", {"start_dim": start, "end_dim": end}, [x])


def upsample_op(node: fx.Node, size: Any, scale: Any, mode: str, align_corners: bool | None) -> Op:
    if isinstance(scale, Sequence):
        scale = [float(s) for s in scale]
    elif scale is not None:
        scale = float(scale)
    if isinstance(size, Sequence):
        size = list(size)
    return Op("upsample", {"size": size, "scale_factor": None if size is not None else scale,
                           "mode": mode, "align_corners": align_corners}, [node.args[0]])
