"""Importer rules for ``call_module`` nodes: one per supported ``torch.nn`` class.

A rule gets the fx node, the called module and the importer (for ``attribute``), and returns an
``Op`` (layer type, params, the fx values feeding its ports; weights default to the module's
own ``state_dict``), ``Same`` for a pass-through, or raises ``Unsupported``. Params are read
from the module; shapes it doesn't store (an adaptive pool's output) from ``ShapeProp``.
"""
from __future__ import annotations

from typing import Any

from torch import fx, nn

from .importer_attention import ATTENTION_MODULES
from .importer_common import (
    Context,
    Op,
    Rule,
    Same,
    Unsupported,
    adaptive_op,
    compact,
    flatten_op,
    only_input,
    shape,
    upsample_op,
)

__all__ = ["MODULES"]


def _conv(node: fx.Node, m: nn.modules.conv._ConvNd, ctx: Context) -> Op:
    dims = len(m.kernel_size)
    common: dict[str, Any] = {
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
        params = {**common, "padding": compact(m.padding), "output_padding": compact(m.output_padding)}  # type: ignore[arg-type]
        return Op(f"conv_transpose{dims}d", params, only_input(node))
    padding = m.padding if isinstance(m.padding, str) else compact(m.padding)  # type: ignore[arg-type]
    params = {**common, "padding": padding, "padding_mode": m.padding_mode}
    return Op(f"conv{dims}d", params, only_input(node))


def _linear(node: fx.Node, m: nn.Linear, ctx: Context) -> Op:
    return Op("linear", {"out_features": m.out_features, "bias": m.bias is not None}, only_input(node))


def _batch_norm(node: fx.Node, m: nn.modules.batchnorm._NormBase, ctx: Context) -> Op:
    if m.momentum is None:
        raise Unsupported("momentum=None (cumulative moving average)")
    kind = "instance_norm" if isinstance(m, nn.modules.instancenorm._InstanceNorm) else "batch_norm"
    dims = {"1d": 1, "2d": 2, "3d": 3}[type(m).__name__[-2:]]
    params = {"eps": m.eps, "momentum": m.momentum, "affine": m.affine,
              "track_running_stats": m.track_running_stats}
    return Op(f"{kind}{dims}d", params, only_input(node))


def _layer_norm(node: fx.Node, m: nn.LayerNorm, ctx: Context) -> Op:
    params = {"normalized_dims": len(m.normalized_shape), "eps": m.eps,
              "elementwise_affine": m.elementwise_affine, "bias": m.bias is not None or not m.elementwise_affine}
    return Op("layer_norm", params, only_input(node))


def _group_norm(node: fx.Node, m: nn.GroupNorm, ctx: Context) -> Op:
    return Op("group_norm", {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}, only_input(node))


def _dropout(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.modules.dropout._DropoutNd, ctx: Context) -> Op:
        return Op(layer_id, {"p": m.p}, only_input(node))
    return rule


def _activation(layer_id: str, *fields: str) -> Rule:
    def rule(node: fx.Node, m: nn.Module, ctx: Context) -> Op:
        return Op(layer_id, {f: getattr(m, f) for f in fields}, only_input(node))
    return rule


def _softmax(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.Softmax, ctx: Context) -> Op:
        if m.dim is None:
            raise Unsupported("softmax without an explicit dim")
        return Op(layer_id, {"dim": m.dim}, only_input(node))
    return rule


def _prelu(node: fx.Node, m: nn.PReLU, ctx: Context) -> Op:
    return Op("prelu", {"per_channel": m.num_parameters > 1}, only_input(node))


def _max_pool(node: fx.Node, m: nn.modules.pooling._MaxPoolNd, ctx: Context) -> Op:
    if m.return_indices:
        raise Unsupported("return_indices=True")
    dims = len(shape(node)) - 2
    params = {"kernel_size": compact(m.kernel_size), "stride": compact(m.stride), "padding": compact(m.padding),
              "dilation": compact(m.dilation), "ceil_mode": m.ceil_mode}
    return Op(f"max_pool{dims}d", params, only_input(node))


def _avg_pool(node: fx.Node, m: Any, ctx: Context) -> Op:
    if getattr(m, "divisor_override", None) is not None:
        raise Unsupported("divisor_override")
    dims = len(shape(node)) - 2
    params = {"kernel_size": compact(m.kernel_size), "stride": compact(m.stride), "padding": compact(m.padding),
              "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad}
    return Op(f"avg_pool{dims}d", params, only_input(node))


def _adaptive(kind: str) -> Rule:
    def rule(node: fx.Node, m: nn.Module, ctx: Context) -> Op:
        if getattr(m, "return_indices", False):
            raise Unsupported("return_indices=True")
        return adaptive_op(kind, node, only_input(node))
    return rule


def _flatten_module(node: fx.Node, m: nn.Flatten, ctx: Context) -> Op:
    return flatten_op(node, node.args[0], m.start_dim, m.end_dim)


def _upsample(node: fx.Node, m: nn.Upsample, ctx: Context) -> Op:
    return upsample_op(node, m.size, m.scale_factor, m.mode, m.align_corners)


def _embedding(node: fx.Node, m: nn.Embedding, ctx: Context) -> Op:
    if m.max_norm is not None or m.sparse:
        raise Unsupported("max_norm or sparse embeddings")
    params = {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim, "padding_idx": m.padding_idx}
    return Op("embedding", params, only_input(node))


def _identity(node: fx.Node, m: nn.Module, ctx: Context) -> Same:
    return Same(only_input(node)[0])


def _channel_shuffle(node: fx.Node, m: nn.ChannelShuffle, ctx: Context) -> Op:
    return Op("channel_shuffle", {"groups": m.groups}, only_input(node))


def _recurrent(layer_id: str) -> Rule:
    def rule(node: fx.Node, m: nn.RNNBase, ctx: Context) -> Op:
        projected = isinstance(m, nn.LSTM) and m.proj_size > 0
        if not m.batch_first or projected or len(node.args) != 1 or node.kwargs:
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
    nn.Dropout1d: _dropout("dropout1d"),
    nn.Dropout2d: _dropout("dropout2d"),
    nn.Dropout3d: _dropout("dropout3d"),
    nn.AlphaDropout: _dropout("alpha_dropout"),
    nn.FeatureAlphaDropout: _dropout("feature_alpha_dropout"),
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
