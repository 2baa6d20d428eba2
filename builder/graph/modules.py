"""Small ``nn.Module`` classes that the layer types build into.

Every class here is a plain module that ``torch.fx`` can trace, ``torch.jit.script`` compiles and
ONNX export accepts: fixed arity, annotated ``forward``, no Python-side state that changes per
call. Tensors are batch-first throughout.

The variadic merges (``Add``, ``Multiply``, ``Concat``) need a fixed number of arguments for
TorchScript, so ``variadic_module("Add", 3)`` generates ``Add3`` with ``forward(x0, x1, x2)``.
Generated classes live in this module's namespace (``modules.Add3``) so they pickle.
The sequence family (attention, transformer, positional encoding, recurrent) lives in
``modules_sequence`` and is importable from here too.
"""

import linecache
import re

import torch
from torch import Tensor, nn

from .modules_sequence import (
    GRULayer,
    LSTMLayer,
    MultiHeadAttention,
    PositionalEncoding,
    RecurrentLayer,
    TransformerEncoderLayer,
    sinusoidal_table,
)

# The module families whose classes and helper functions source export may inline.
FAMILIES = (__name__, MultiHeadAttention.__module__)

__all__ = [
    "FAMILIES",
    "ChannelShuffle",
    "ExpandBatch",
    "GRULayer",
    "LSTMLayer",
    "Mean",
    "MultiHeadAttention",
    "ParameterTensor",
    "Permute",
    "PositionalEncoding",
    "RecurrentLayer",
    "Reshape",
    "Select",
    "StochasticDepth",
    "TransformerEncoderLayer",
    "Transpose",
    "chunk_module",
    "sinusoidal_table",
    "variadic_module",
]

_VARIADIC_OPS = {"Add": " + ", "Multiply": " * ", "Concat": ", "}
_GENERATED_NAME = re.compile(r"^(Add|Multiply|Concat|Chunk)([0-9]+)$")
_generated: dict[str, type[nn.Module]] = {}


class _Variadic(nn.Module):
    """Base of the generated merges; ``dim`` is only used by ``Concat``."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}" if type(self).__name__.startswith("Concat") else ""


class _Chunk(nn.Module):
    """Base of the generated splits: ``Chunk3`` returns ``x.chunk(3, dim)`` as a 3-tuple."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _generate(name: str, base: type[nn.Module], source: str) -> type[nn.Module]:
    """A subclass of ``base`` named ``name`` whose ``forward`` is ``source``."""
    # TorchScript reads forward's source through linecache, as torch.fx does for GraphModule.
    filename = f"<builder.graph.modules.{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, object] = {"torch": torch, "Tensor": Tensor}
    exec(compile(source, filename, "exec"), namespace)
    cls = type(name, (base,), {"forward": namespace["forward"], "__module__": __name__})
    cls.__qualname__ = name
    _generated[name] = cls
    return cls


def variadic_module(kind: str, n: int) -> type[nn.Module]:
    """The ``Add``/``Multiply``/``Concat`` class taking exactly ``n`` tensors."""
    if kind not in _VARIADIC_OPS or not 1 <= n <= 256:
        raise ValueError(f"no variadic module {kind}{n}")
    name = f"{kind}{n}"
    if name in _generated:
        return _generated[name]
    args = [f"x{i}" for i in range(n)]
    expr = _VARIADIC_OPS[kind].join(args)
    if kind == "Concat":
        expr = f"torch.cat([{expr}], dim=self.dim)"
    signature = ", ".join(f"{a}: Tensor" for a in args)
    return _generate(name, _Variadic, f"def forward(self, {signature}) -> Tensor:\n    return {expr}\n")


def chunk_module(n: int) -> type[nn.Module]:
    """The ``Chunk`` class splitting one tensor into exactly ``n`` (a fixed-size tuple, which
    TorchScript and ONNX need, where ``Tensor.chunk`` returns a list)."""
    if not 1 <= n <= 256:
        raise ValueError(f"no chunk module Chunk{n}")
    name = f"Chunk{n}"
    if name in _generated:
        return _generated[name]
    result = ", ".join(["Tensor"] * n)
    parts = ", ".join(f"parts[{i}]" for i in range(n))
    source = (
        f"def forward(self, x: Tensor) -> tuple[{result}]:\n"
        f"    parts = x.chunk({n}, dim=self.dim)\n"
        f"    return ({parts},)\n"
    )
    return _generate(name, _Chunk, source)


def __getattr__(name: str) -> type[nn.Module]:
    match = _GENERATED_NAME.match(name)
    if match is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    kind, n = match.group(1), int(match.group(2))
    return chunk_module(n) if kind == "Chunk" else variadic_module(kind, n)


class Reshape(nn.Module):
    """Reshapes each sample to ``shape`` (batch kept); one entry may be -1."""

    shape: list[int]

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape([x.size(0)] + self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Permute(nn.Module):
    """Permutes dimensions; ``dims`` covers the whole tensor, batch included."""

    dims: list[int]

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Transpose(nn.Module):
    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle on ``[N, C, H, W]``."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
        x = x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2)
        return x.reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Select(nn.Module):
    """``x.select(dim, index)``: one slice along ``dim``, which disappears (``x[:, 0]``)."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class ExpandBatch(nn.Module):
    """Repeats a batch-1 tensor (a learned class token) to the batch size of ``like``, without
    copying: ``[1, *S]`` -> ``[N, *S]``."""

    def forward(self, x: Tensor, like: Tensor) -> Tensor:
        return x.expand([like.size(0)] + [-1] * (x.dim() - 1))

    def extra_repr(self) -> str:
        return ""  # no constructor arguments (declared so the source exporter writes ExpandBatch())


class Mean(nn.Module):
    dims: list[int]

    def __init__(self, dims: list[int], keepdim: bool = False) -> None:
        super().__init__()
        self.dims = list(dims)
        self.keepdim = keepdim

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdim={self.keepdim}"


class ParameterTensor(nn.Module):
    """A learnable tensor of shape ``[1, *shape]`` with no input; it broadcasts over the batch."""

    shape: list[int]

    def __init__(self, shape: list[int], init: str = "zeros", std: float = 0.02) -> None:
        super().__init__()
        self.shape = list(shape)
        self.weight = nn.Parameter(torch.empty([1] + list(shape)))
        if init == "zeros":
            nn.init.zeros_(self.weight)
        elif init == "ones":
            nn.init.ones_(self.weight)
        elif init == "normal":
            nn.init.normal_(self.weight, std=std)
        else:
            nn.init.uniform_(self.weight, -std, std)

    def forward(self) -> Tensor:
        return self.weight

    def extra_repr(self) -> str:
        # Initial values are not part of the constructor form: the weights are loaded.
        return f"shape={self.shape}"


class StochasticDepth(nn.Module):
    """Drops a residual branch while training ("Deep Networks with Stochastic Depth"): ``row``
    zeroes each sample's values with probability ``p``, ``batch`` the whole batch at once; what
    survives is scaled by ``1 / (1 - p)``. The identity in evaluation. It draws exactly the random
    numbers torchvision's ``StochasticDepth`` draws, so an imported model trains the same."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        rows = x.flatten(1)  # [N, rest]: one draw per row broadcasts without knowing the rank
        noise = rows.new_empty([rows.size(0), 1] if self.mode == "row" else [1, 1]).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return (rows * noise).reshape_as(x)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
