"""Importer rules for ``call_function`` and ``call_method`` nodes (``torch.cat``, ``operator.add``,
``F.relu``, ``x.view``...), keyed by function object or method name.

Arguments are read positionally or by keyword with ``arg``; anything computed from sizes
(``x.view(n, -1)``) is taken from the traced output shape instead, so the rules never evaluate
Python arithmetic. ShuffleNet's view/transpose/view channel shuffle collapses into one layer.
A batch size read from a tensor (``x.shape[0]``, ``x.size(0)``) is followed back to that tensor,
which is how ViT's ``class_token.expand(n, -1, -1)`` becomes an ``expand_batch``.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from .importer_common import (
    Context,
    Op,
    Rule,
    Same,
    Unsupported,
    adaptive_op,
    arg,
    compact,
    flatten_op,
    is_tensor,
    norm_dim,
    shape,
    upsample_op,
)

__all__ = ["FUNCTIONS", "METHODS", "function_rule", "index_op"]


def _binary(layer_id: str) -> Rule:
    def rule(node: fx.Node, _: Any, ctx: Context) -> Op:
        a, b = arg(node, 0, "input"), arg(node, 1, "other")
        if node.kwargs.get("alpha", 1) != 1:
            raise Unsupported("add with alpha")
        if not (is_tensor(a) and is_tensor(b)):
            raise Unsupported(f"{layer_id} with a constant (only tensor-tensor is supported)")
        return Op(layer_id, {"num_inputs": 2}, [a, b])
    return rule


def _cat(node: fx.Node, _: Any, ctx: Context) -> Op | Same:
    tensors = list(arg(node, 0, "tensors"))
    dim = arg(node, 1, "dim", 0)
    if len(tensors) == 1:
        return Same(tensors[0])
    if norm_dim(dim, len(shape(node))) == 0:
        raise Unsupported("concatenating along the batch dimension")
    return Op("concat", {"num_inputs": len(tensors), "dim": dim}, tensors)


def _mean(node: fx.Node, _: Any, ctx: Context) -> Op:
    x, dims = arg(node, 0, "input"), arg(node, 1, "dim")
    if dims is None:
        raise Unsupported("mean over every dimension, batch included")
    dims = [dims] if isinstance(dims, int) else list(dims)
    if any(norm_dim(d, len(shape(x))) == 0 for d in dims):
        raise Unsupported("mean over the batch dimension")
    return Op("mean", {"dims": dims, "keepdim": bool(arg(node, 2, "keepdim", False))}, [x])


def _function(layer_id: str, **fields: tuple[int, Any]) -> Rule:
    """A functional activation; ``fields`` maps each param to (position, default)."""
    def rule(node: fx.Node, _: Any, ctx: Context) -> Op:
        params = {name: arg(node, pos, name, default) for name, (pos, default) in fields.items()}
        return Op(layer_id, params, [arg(node, 0, "input")])
    return rule


def _softmax_function(layer_id: str) -> Rule:
    def rule(node: fx.Node, _: Any, ctx: Context) -> Op:
        dim = arg(node, 1, "dim")
        if dim is None or arg(node, 3, "dtype") is not None:
            raise Unsupported(f"{layer_id} needs an explicit dim and no dtype")
        return Op(layer_id, {"dim": dim}, [arg(node, 0, "input")])
    return rule


def _adaptive_function(kind: str) -> Rule:
    def rule(node: fx.Node, _: Any, ctx: Context) -> Op:
        if arg(node, 2, "return_indices", False):
            raise Unsupported("return_indices=True")
        return adaptive_op(kind, node, [arg(node, 0, "input")])
    return rule


def _max_pool_function(node: fx.Node, _: Any, ctx: Context) -> Op:
    if arg(node, 6, "return_indices", False):
        raise Unsupported("return_indices=True")
    kernel = arg(node, 1, "kernel_size")
    stride = arg(node, 2, "stride") or kernel
    params = {"kernel_size": compact(kernel), "stride": compact(stride), "padding": compact(arg(node, 3, "padding", 0)),
              "dilation": compact(arg(node, 4, "dilation", 1)), "ceil_mode": arg(node, 5, "ceil_mode", False)}
    return Op(f"max_pool{len(shape(node)) - 2}d", params, [arg(node, 0, "input")])


def _avg_pool_function(node: fx.Node, _: Any, ctx: Context) -> Op:
    if arg(node, 6, "divisor_override") is not None:
        raise Unsupported("divisor_override")
    kernel = arg(node, 1, "kernel_size")
    stride = arg(node, 2, "stride") or kernel
    params = {"kernel_size": compact(kernel), "stride": compact(stride), "padding": compact(arg(node, 3, "padding", 0)),
              "ceil_mode": arg(node, 4, "ceil_mode", False), "count_include_pad": arg(node, 5, "count_include_pad", True)}
    return Op(f"avg_pool{len(shape(node)) - 2}d", params, [arg(node, 0, "input")])


def _dropout_function(layer_id: str) -> Rule:
    def rule(node: fx.Node, _: Any, ctx: Context) -> Op:
        return Op(layer_id, {"p": arg(node, 1, "p", 0.5)}, [arg(node, 0, "input")])
    return rule


def _stochastic_depth(node: fx.Node, _: Any, ctx: Context) -> Op:
    """torchvision's ``stochastic_depth(input, p, mode, training)``, which its ``StochasticDepth``
    module calls with ``training=self.training``: the layer follows the model's mode the same way
    (tracing runs in evaluation, so the traced ``training`` is always False and is not read)."""
    params = {"p": float(arg(node, 1, "p")), "mode": arg(node, 2, "mode")}
    return Op("stochastic_depth", params, [arg(node, 0, "input")], label=_calling_module(node, "StochasticDepth"))


def _calling_module(node: fx.Node, class_name: str) -> str | None:
    """The path of the innermost module the call was traced in, when that module is a
    ``class_name`` (fx records ``{path: (path, class)}`` in ``nn_module_stack``)."""
    stack = node.meta.get("nn_module_stack") or {}
    entry = list(stack.values())[-1] if stack else None
    if isinstance(entry, tuple) and len(entry) == 2 and getattr(entry[1], "__name__", "") == class_name:
        return str(entry[0]) or None
    return None


def _layer_norm_function(node: fx.Node, _: Any, ctx: Context) -> Op:
    x, normalized = arg(node, 0, "input"), arg(node, 1, "normalized_shape")
    weight, bias = arg(node, 2, "weight"), arg(node, 3, "bias")
    tensors = {"weight": ctx.attribute(weight) if weight is not None else None,
               "bias": ctx.attribute(bias) if bias is not None else None}
    if any(a is not None and t is None for a, t in ((weight, tensors["weight"]), (bias, tensors["bias"]))):
        raise Unsupported("layer_norm whose weight or bias is computed, not a parameter")
    if weight is None and bias is not None:
        raise Unsupported("layer_norm with a bias but no weight")
    params = {"normalized_dims": len(normalized), "eps": arg(node, 4, "eps", 1e-5),
              "elementwise_affine": weight is not None, "bias": bias is not None or weight is None}
    return Op("layer_norm", params, [x], weights={k: v for k, v in tensors.items() if v is not None})


def _interpolate(node: fx.Node, _: Any, ctx: Context) -> Op:
    if arg(node, 6, "antialias", False):
        raise Unsupported("antialias=True")
    return upsample_op(node, arg(node, 1, "size"), arg(node, 2, "scale_factor"),
                        arg(node, 3, "mode", "nearest"), arg(node, 4, "align_corners"))


def _flatten_function(node: fx.Node, _: Any, ctx: Context) -> Op:
    return flatten_op(node, arg(node, 0, "input"), arg(node, 1, "start_dim", 0), arg(node, 2, "end_dim", -1))


def _reshape(node: fx.Node, _: Any, ctx: Context) -> Op | Same:
    """view/reshape/squeeze/unsqueeze/unflatten: the target comes from the traced shape."""
    x = node.args[0]
    before, after = shape(x), shape(node)
    if before == after:
        return Same(x)
    if not after or after[0] != before[0]:
        raise Unsupported("a reshape that changes the batch dimension")
    shuffle = _channel_shuffle_groups(node)
    if shuffle is not None:
        return Op("channel_shuffle", {"groups": shuffle[1]}, [shuffle[0]])
    if len(after) == 2 and len(before) > 2:
        return Op("flatten", {"start_dim": 1, "end_dim": -1}, [x])
    return Op("reshape", {"shape": list(after[1:])}, [x])


def _channel_shuffle_groups(node: fx.Node) -> tuple[fx.Node, int] | None:
    """``x.view(n, g, c // g, h, w).transpose(1, 2)[.contiguous()].view(n, c, h, w)``
    (ShuffleNet) is one ``channel_shuffle``; returns ``(x, g)`` when ``node`` ends one."""
    prev = node.args[0]
    if isinstance(prev, fx.Node) and prev.op == "call_method" and prev.target == "contiguous":
        prev = prev.args[0]
    if not (isinstance(prev, fx.Node) and prev.target in ("transpose", torch.transpose)):
        return None
    if sorted(norm_dim(d, 5) for d in prev.args[1:3] if isinstance(d, int)) != [1, 2]:
        return None
    split = prev.args[0]
    if not (isinstance(split, fx.Node) and split.target in ("view", "reshape", torch.reshape)):
        return None
    x = split.args[0]
    if not isinstance(x, fx.Node) or not is_tensor(x) or len(shape(x)) != 4 or shape(node) != shape(x) or len(shape(split)) != 5:
        return None
    return x, shape(split)[1]


def _permute(node: fx.Node, _: Any, ctx: Context) -> Op | Same:
    x = arg(node, 0, "input")
    raw = node.args[1:] if node.op == "call_method" else (arg(node, 1, "dims"),)
    dims = list(raw[0]) if len(raw) == 1 and isinstance(raw[0], Sequence) else list(raw)
    rank = len(shape(x))
    dims = [norm_dim(d, rank) for d in dims]
    if dims == sorted(dims):
        return Same(x)
    if dims[0] != 0:
        raise Unsupported("a permute that moves the batch dimension")
    return Op("permute", {"dims": dims}, [x])


def _transpose(node: fx.Node, _: Any, ctx: Context) -> Op | Same:
    x = arg(node, 0, "input")
    rank = len(shape(x))
    a, b = norm_dim(arg(node, 1, "dim0"), rank), norm_dim(arg(node, 2, "dim1"), rank)
    if a == b:
        return Same(x)
    if 0 in (a, b):
        raise Unsupported("a transpose that moves the batch dimension")
    return Op("transpose", {"dim0": a, "dim1": b}, [x])


def _chunk(node: fx.Node, _: Any, ctx: Context) -> Op:
    x, chunks, dim = arg(node, 0, "input"), arg(node, 1, "chunks"), arg(node, 2, "dim", 0)
    if not isinstance(chunks, int) or not isinstance(dim, int):
        raise Unsupported("chunk with computed arguments")
    if norm_dim(dim, len(shape(x))) == 0:
        raise Unsupported("splitting the batch dimension")
    pieces = len(node.meta.get("tensor_meta") or ())
    if pieces != chunks:  # torch.chunk gives fewer pieces when the size doesn't allow that many
        raise Unsupported(f"chunk({chunks}) that gives {pieces} pieces")
    if chunks == 1:
        raise Unsupported("chunk(1)")
    return Op("chunk", {"chunks": chunks, "dim": dim}, [x], tuple_ports=tuple(f"out{i}" for i in range(chunks)))


def _batch_size_of(value: Any) -> fx.Node | None:
    """The tensor whose batch size ``value`` is (``t.shape[0]``, ``t.size()[0]``, ``t.size(0)``)."""
    if not isinstance(value, fx.Node):
        return None
    if value.op == "call_method" and value.target == "size" and len(value.args) == 2 and value.args[1] == 0:
        source = value.args[0]
    elif value.op == "call_function" and value.target is operator.getitem and value.args[1] == 0:
        sizes = value.args[0]
        if not isinstance(sizes, fx.Node):
            return None
        is_shape = sizes.op == "call_function" and sizes.target is getattr and sizes.args[1] == "shape"
        is_size = sizes.op == "call_method" and sizes.target == "size" and len(sizes.args) == 1
        if not (is_shape or is_size):
            return None
        source = sizes.args[0]
    else:
        return None
    return source if isinstance(source, fx.Node) and is_tensor(source) else None


def _expand(node: fx.Node, _: Any, ctx: Context) -> Op | Same:
    """``t.expand(n, -1, ...)`` of a batch-1 tensor, ``n`` a batch size: ``expand_batch``."""
    x = node.args[0]
    sizes = list(node.args[1:]) or [node.kwargs.get("size")]
    if len(sizes) == 1 and isinstance(sizes[0], Sequence):
        sizes = list(sizes[0])
    before = shape(x)
    if len(sizes) != len(before) or any(s not in (-1, d) for s, d in zip(sizes[1:], before[1:], strict=True)):
        raise Unsupported("expanding a dimension other than the batch")
    like = _batch_size_of(sizes[0])
    if like is not None and before[0] == 1:
        return Op("expand_batch", {}, [x, like])
    if sizes[0] in (-1, before[0]):
        return Same(x)
    raise Unsupported("expanding the batch to a size not read from a tensor of the batch")


def index_op(node: fx.Node) -> Op:
    """``x[:, i]`` / ``x[..., i]``: one integer index, every other entry ``:``: ``select``."""
    x, index = node.args[0], node.args[1]
    items = list(index) if isinstance(index, tuple) else [index]
    ints = [i for i, item in enumerate(items) if isinstance(item, int) and not isinstance(item, bool)]
    full = slice(None, None, None)
    rest_ok = all(item == full or item is Ellipsis for i, item in enumerate(items) if i not in ints)
    if len(ints) != 1 or not rest_ok or items.count(Ellipsis) > 1:
        raise Unsupported("indexing or slicing a tensor (only x[:, i] is supported)")
    position = ints[0]
    dim = position - len(items) if Ellipsis in items[:position] else position  # after ...: from the end
    if norm_dim(dim, len(shape(x))) == 0:
        raise Unsupported("indexing the batch dimension")
    return Op("select", {"dim": dim, "index": items[position]}, [x])


def _pass_through(node: fx.Node, _: Any, ctx: Context) -> Same:
    return Same(node.args[0])


_ACTIVATION_FUNCTIONS: dict[str, Rule] = {
    "relu": _function("relu"), "relu6": _function("relu6"), "silu": _function("silu"),
    "sigmoid": _function("sigmoid"), "tanh": _function("tanh"), "hardswish": _function("hardswish"),
    "hardsigmoid": _function("hardsigmoid"), "mish": _function("mish"),
    "gelu": _function("gelu", approximate=(1, "none")),
    "leaky_relu": _function("leaky_relu", negative_slope=(1, 0.01)),
    "elu": _function("elu", alpha=(1, 1.0)),
    "softmax": _softmax_function("softmax"), "log_softmax": _softmax_function("log_softmax"),
}

FUNCTIONS: dict[Any, Rule] = {
    **{getattr(F, name): rule for name, rule in _ACTIVATION_FUNCTIONS.items()},
    torch.relu: _ACTIVATION_FUNCTIONS["relu"], torch.sigmoid: _ACTIVATION_FUNCTIONS["sigmoid"],
    torch.tanh: _ACTIVATION_FUNCTIONS["tanh"], torch.softmax: _ACTIVATION_FUNCTIONS["softmax"],
    torch.log_softmax: _ACTIVATION_FUNCTIONS["log_softmax"],
    F.hardtanh: _function("hardtanh", min_val=(1, -1.0), max_val=(2, 1.0)),
    operator.add: _binary("add"), operator.iadd: _binary("add"), torch.add: _binary("add"),
    operator.mul: _binary("multiply"), operator.imul: _binary("multiply"), torch.mul: _binary("multiply"),
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.mean: _mean,
    torch.flatten: _flatten_function,
    torch.reshape: _reshape, torch.squeeze: _reshape, torch.unsqueeze: _reshape, torch.unflatten: _reshape,
    torch.permute: _permute, torch.transpose: _transpose, torch.chunk: _chunk,
    F.adaptive_avg_pool1d: _adaptive_function("avg"), F.adaptive_avg_pool2d: _adaptive_function("avg"),
    F.adaptive_avg_pool3d: _adaptive_function("avg"), F.adaptive_max_pool2d: _adaptive_function("max"),
    F.max_pool1d: _max_pool_function, F.max_pool2d: _max_pool_function, F.max_pool3d: _max_pool_function,
    F.avg_pool1d: _avg_pool_function, F.avg_pool2d: _avg_pool_function, F.avg_pool3d: _avg_pool_function,
    F.dropout: _dropout_function("dropout"), F.dropout1d: _dropout_function("dropout1d"),
    F.dropout2d: _dropout_function("dropout2d"), F.dropout3d: _dropout_function("dropout3d"),
    F.alpha_dropout: _dropout_function("alpha_dropout"),
    F.feature_alpha_dropout: _dropout_function("feature_alpha_dropout"),
    F.layer_norm: _layer_norm_function,
    F.interpolate: _interpolate,
}

METHODS: dict[str, Rule] = {
    **{name: rule for name, rule in _ACTIVATION_FUNCTIONS.items() if hasattr(torch.Tensor, name)},
    "relu_": _ACTIVATION_FUNCTIONS["relu"], "sigmoid_": _ACTIVATION_FUNCTIONS["sigmoid"],
    "add": _binary("add"), "add_": _binary("add"), "__add__": _binary("add"), "__iadd__": _binary("add"),
    "mul": _binary("multiply"), "mul_": _binary("multiply"), "__mul__": _binary("multiply"),
    "mean": _mean,
    "flatten": _flatten_function,
    "view": _reshape, "reshape": _reshape, "squeeze": _reshape, "unsqueeze": _reshape, "unflatten": _reshape,
    "permute": _permute, "transpose": _transpose, "chunk": _chunk, "expand": _expand,
    "contiguous": _pass_through,
}


def function_rule(target: Any) -> Rule | None:
    """The rule for a ``call_function`` target. torchvision's ``stochastic_depth`` is matched by
    name, so that the graph core needs no torchvision."""
    if target in FUNCTIONS:
        return FUNCTIONS[target]
    if getattr(target, "__name__", "") == "stochastic_depth" and "torchvision" in getattr(target, "__module__", ""):
        return _stochastic_depth
    return None
