"""Rules that turn one ``torch.fx`` node into one layer of a graph document.

``importer.from_module`` traces a module and hands every ``call_module``, ``call_function`` and
``call_method`` node to the rule registered for its module class, function or method name. A
rule returns an :class:`Op` (a layer type, its params, the fx nodes feeding its input ports in
order and, when they are not the called module's own ``state_dict``, its weights), or
:class:`Same` when the node passes a value through unchanged (``contiguous``, ``Identity``,
stochastic depth in evaluation), or raises :class:`Unsupported` with a reason.

Shapes come from ``ShapeProp`` (``node.meta["tensor_meta"]``), so params such as an adaptive
pool's output size or a reshape's target are read from what the model actually did.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import fx, nn

from .importer_attention import ATTENTION_MODULES
from .importer_common import Op, Same, Unsupported, arg, compact, is_tensor, norm_dim, shape

__all__ = ["FUNCTIONS", "METHODS", "MODULES", "Context", "Op", "Same", "Unsupported"]


class Context(Protocol):
    def attribute(self, node: fx.Node) -> torch.Tensor | None:
        """The tensor a ``get_attr`` node reads, else ``None``."""


Rule = Callable[[fx.Node, Any, Context], "Op | Same"]


def _only_input(node: fx.Node) -> list[Any]:
    if len(node.args) != 1 or node.kwargs:
        raise Unsupported("called with extra arguments")
    return [node.args[0]]


# ---- modules -----------------------------------------------------------------------------
def _conv(node: fx.Node, m: nn.modules.conv._ConvNd, ctx: Context) -> Op:
    dims = len(m.kernel_size)
    common = {
        "out_channels": m.out_channels,
        "kernel_size": compact(m.kernel_size),
        "stride": compact(m.stride),
        "dilation": compact(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
    }
    if m.transposed:
        if m.padding_mode != "zeros":
            raise Unsupported(f"padding_mode={m.padding_mode!r} on a transposed convolution")
        params = {**common, "padding": compact(m.padding), "output_padding": compact(m.output_padding)}
        return Op(f"conv_transpose{dims}d", params, _only_input(node))
    padding = m.padding if isinstance(m.padding, str) else compact(m.padding)
    params = {**common, "padding": padding, "padding_mode": m.padding_mode}
    return Op(f"conv{dims}d", params, _only_input(node))


def _linear(node: fx.Node, m: nn.Linear, ctx: Context) -> Op:
    return Op("linear", {"out_features": m.out_features, "bias": m.bias is not None}, _only_input(node))


def _batch_norm(node: fx.Node, m: nn.modules.batchnorm._NormBase, ctx: Context) -> Op:
    if m.momentum is None:
        raise Unsupported("momentum=None (cumulative moving average)")
    kind = "instance_norm" if isinstance(m, nn.modules.instancenorm._InstanceNorm) else "batch_norm"
    dims = {"1d": 1, "2d": 2, "3d": 3}[type(m).__name__[-2:]]
    params = {"eps": m.eps, "momentum": m.momentum, "affine": m.affine,
              "track_running_stats": m.track_running_stats}
    return Op(f"{kind}{dims}d", params, _only_input(node))


def _layer_norm(node: fx.Node, m: nn.LayerNorm, ctx: Context) -> Op:
    params = {"normalized_dims": len(m.normalized_shape), "eps": m.eps,
              "elementwise_affine": m.elementwise_affine, "bias": m.bias is not None or not m.elementwise_affine}
    return Op("layer_norm", params, _only_input(node))


def _group_norm(node: fx.Node, m: nn.GroupNorm, ctx: Context) -> Op:
    return Op("group_norm", {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}, _only_input(node))


def _dropout(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.modules.dropout._DropoutNd, ctx: Context) -> Op:
        return Op(layer_id, {"p": m.p}, _only_input(node))
    return rule


def _activation(layer_id: str, *fields: str) -> Rule:
    def rule(node: fx.Node, m: nn.Module, ctx: Context) -> Op:
        return Op(layer_id, {f: getattr(m, f) for f in fields}, _only_input(node))
    return rule


def _softmax(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.Softmax, ctx: Context) -> Op:
        if m.dim is None:
            raise Unsupported("softmax without an explicit dim")
        return Op(layer_id, {"dim": m.dim}, _only_input(node))
    return rule


def _prelu(node: fx.Node, m: nn.PReLU, ctx: Context) -> Op:
    return Op("prelu", {"per_channel": m.num_parameters > 1}, _only_input(node))


def _max_pool(node: fx.Node, m: nn.modules.pooling._MaxPoolNd, ctx: Context) -> Op:
    if m.return_indices:
        raise Unsupported("return_indices=True")
    dims = len(shape(node)) - 2
    params = {"kernel_size": compact(m.kernel_size), "stride": compact(m.stride), "padding": compact(m.padding),
              "dilation": compact(m.dilation), "ceil_mode": m.ceil_mode}
    return Op(f"max_pool{dims}d", params, _only_input(node))


def _avg_pool(node: fx.Node, m: nn.Module, ctx: Context) -> Op:
    if getattr(m, "divisor_override", None) is not None:
        raise Unsupported("divisor_override")
    dims = len(shape(node)) - 2
    params = {"kernel_size": compact(m.kernel_size), "stride": compact(m.stride), "padding": compact(m.padding),
              "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad}
    return Op(f"avg_pool{dims}d", params, _only_input(node))


def _adaptive(kind: str) -> Rule:
    def rule(node: fx.Node, m: nn.Module, ctx: Context) -> Op:
        if getattr(m, "return_indices", False):
            raise Unsupported("return_indices=True")
        return _adaptive_op(kind, node, _only_input(node))
    return rule


def _adaptive_op(kind: str, node: fx.Node, inputs: list[Any]) -> Op:
    out = shape(node)
    return Op(f"adaptive_{kind}_pool{len(out) - 2}d", {"output_size": compact(out[2:])}, inputs)


def _flatten_module(node: fx.Node, m: nn.Flatten, ctx: Context) -> Op:
    return _flatten_op(node, node.args[0], m.start_dim, m.end_dim)


def _upsample(node: fx.Node, m: nn.Upsample, ctx: Context) -> Op:
    return _upsample_op(node, m.size, m.scale_factor, m.mode, m.align_corners)


def _embedding(node: fx.Node, m: nn.Embedding, ctx: Context) -> Op:
    if m.max_norm is not None or m.sparse:
        raise Unsupported("max_norm or sparse embeddings")
    params = {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim, "padding_idx": m.padding_idx}
    return Op("embedding", params, _only_input(node))


def _identity(node: fx.Node, m: nn.Module, ctx: Context) -> Same:
    return Same(_only_input(node)[0])


def _channel_shuffle(node: fx.Node, m: nn.ChannelShuffle, ctx: Context) -> Op:
    return Op("channel_shuffle", {"groups": m.groups}, _only_input(node))


def _recurrent(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.RNNBase, ctx: Context) -> Op:
        if not m.batch_first or getattr(m, "proj_size", 0) or len(node.args) != 1 or node.kwargs:
            raise Unsupported("needs batch_first=True, no projection and no initial state")
        params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional,
                  "dropout": m.dropout, "bias": m.bias}
        weights = {f"rnn.{k}": v for k, v in m.state_dict().items()}
        # nn.LSTM returns (out, (h, c)); only the sequence output maps onto the layer's "out".
        return Op(layer_id, params, [node.args[0]], weights=weights, tuple_ports=("out", None))
    return rule


MODULES: dict[type[nn.Module], Rule] = {
    **{cls: _conv for cls in (nn.Conv1d, nn.Conv2d, nn.Conv3d,
                              nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)},
    nn.Linear: _linear,
    **{cls: _batch_norm for cls in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
                                    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)},
    nn.LayerNorm: _layer_norm,
    nn.GroupNorm: _group_norm,
    nn.Dropout: _dropout("dropout"),
    nn.Dropout2d: _dropout("dropout2d"),
    nn.Dropout3d: _dropout("dropout3d"),
    nn.ReLU: _activation("relu"),
    nn.ReLU6: _activation("relu6"),
    nn.LeakyReLU: _activation("leaky_relu", "negative_slope"),
    nn.ELU: _activation("elu", "alpha"),
    nn.GELU: _activation("gelu", "approximate"),
    nn.SiLU: _activation("silu"),
    nn.Mish: _activation("mish"),
    nn.Sigmoid: _activation("sigmoid"),
    nn.Tanh: _activation("tanh"),
    nn.Hardswish: _activation("hardswish"),
    nn.Hardsigmoid: _activation("hardsigmoid"),
    nn.Hardtanh: _activation("hardtanh", "min_val", "max_val"),
    nn.Softmax: _softmax("softmax"),
    nn.LogSoftmax: _softmax("log_softmax"),
    nn.PReLU: _prelu,
    **{cls: _max_pool for cls in (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)},
    **{cls: _avg_pool for cls in (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)},
    **{cls: _adaptive("avg") for cls in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)},
    **{cls: _adaptive("max") for cls in (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)},
    nn.Flatten: _flatten_module,
    nn.Identity: _identity,
    nn.Upsample: _upsample,
    nn.Embedding: _embedding,
    nn.ChannelShuffle: _channel_shuffle,
    nn.LSTM: _recurrent("lstm"),
    nn.GRU: _recurrent("gru"),
    **ATTENTION_MODULES,
}


# ---- functions and methods ---------------------------------------------------------------
def _flatten_op(node: fx.Node, x: Any, start: int, end: int) -> Op:
    rank = len(shape(x))
    if norm_dim(start, rank) == 0:
        raise Unsupported("flattening the batch dimension")
    return Op("flatten", {"start_dim": start, "end_dim": end}, [x])


def _upsample_op(node: fx.Node, size: Any, scale: Any, mode: str, align_corners: bool | None) -> Op:
    if isinstance(scale, Sequence):
        scale = [float(s) for s in scale]
    elif scale is not None:
        scale = float(scale)
    if isinstance(size, Sequence):
        size = list(size)
    return Op("upsample", {"size": size, "scale_factor": None if size is not None else scale,
                           "mode": mode, "align_corners": align_corners}, [node.args[0]])


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
        return _adaptive_op(kind, node, [arg(node, 0, "input")])
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
    return _upsample_op(node, arg(node, 1, "size"), arg(node, 2, "scale_factor"),
                        arg(node, 3, "mode", "nearest"), arg(node, 4, "align_corners"))


def _flatten_function(node: fx.Node, _: Any, ctx: Context) -> Op:
    return _flatten_op(node, arg(node, 0, "input"), arg(node, 1, "start_dim", 0), arg(node, 2, "end_dim", -1))


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
    if not is_tensor(x) or len(shape(x)) != 4 or shape(node) != shape(x) or len(shape(split)) != 5:
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
    torch.permute: _permute, torch.transpose: _transpose,
    F.adaptive_avg_pool1d: _adaptive_function("avg"), F.adaptive_avg_pool2d: _adaptive_function("avg"),
    F.adaptive_avg_pool3d: _adaptive_function("avg"), F.adaptive_max_pool2d: _adaptive_function("max"),
    F.max_pool1d: _max_pool_function, F.max_pool2d: _max_pool_function, F.max_pool3d: _max_pool_function,
    F.avg_pool1d: _avg_pool_function, F.avg_pool2d: _avg_pool_function, F.avg_pool3d: _avg_pool_function,
    F.dropout: _dropout_function("dropout"), F.dropout2d: _dropout_function("dropout2d"),
    F.dropout3d: _dropout_function("dropout3d"),
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
    "permute": _permute, "transpose": _transpose,
    "contiguous": _pass_through,
}


def function_rule(target: Any) -> Rule | None:
    """The rule for a ``call_function`` target; torchvision's stochastic depth is the
    identity in evaluation, which is what an imported graph reproduces."""
    if target in FUNCTIONS:
        return FUNCTIONS[target]
    if getattr(target, "__name__", "") == "stochastic_depth" and "torchvision" in getattr(target, "__module__", ""):
        return _pass_through
    return None

