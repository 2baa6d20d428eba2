"""Importer rules for ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer``.

PyTorch packs the query/key/value projections into one ``in_proj_weight``; the graph's
``multi_head_attention`` keeps them as three ``nn.Linear`` (``q_proj``, ``k_proj``,
``v_proj``), so the weights are split on the way in. Both need ``batch_first=True`` and no
masks: that is the form the graph's layers compute.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

from .importer_common import Op, Unsupported, arg

_ALLOWED_KWARGS = {"need_weights", "average_attn_weights"}


def attention_weights(m: nn.MultiheadAttention, prefix: str = "") -> dict[str, torch.Tensor]:
    """``nn.MultiheadAttention``'s weights under ``modules.MultiHeadAttention``'s names."""
    if m._qkv_same_embed_dim:
        q, k, v = m.in_proj_weight.detach().chunk(3)
    else:
        q, k, v = m.q_proj_weight.detach(), m.k_proj_weight.detach(), m.v_proj_weight.detach()
    out = {f"{prefix}q_proj.weight": q, f"{prefix}k_proj.weight": k, f"{prefix}v_proj.weight": v,
           f"{prefix}out_proj.weight": m.out_proj.weight.detach()}
    if m.in_proj_bias is not None:
        qb, kb, vb = m.in_proj_bias.detach().chunk(3)
        out |= {f"{prefix}q_proj.bias": qb, f"{prefix}k_proj.bias": kb, f"{prefix}v_proj.bias": vb,
                f"{prefix}out_proj.bias": m.out_proj.bias.detach()}
    return out


def _check_attention(m: nn.MultiheadAttention) -> None:
    if not m.batch_first:
        raise Unsupported("needs batch_first=True")
    if m.bias_k is not None or m.add_zero_attn:
        raise Unsupported("add_bias_kv / add_zero_attn")
    if (m.in_proj_bias is None) != (m.out_proj.bias is None):
        raise Unsupported("bias on only some of the projections")


def _multi_head_attention(node: fx.Node, m: nn.MultiheadAttention, ctx: Any) -> Op:
    _check_attention(m)
    if len(node.args) > 3 or set(node.kwargs) - _ALLOWED_KWARGS - {"query", "key", "value"}:
        raise Unsupported("attention masks are not supported")
    q, k, v = arg(node, 0, "query"), arg(node, 1, "key"), arg(node, 2, "value")
    # Unconnected key/value default to the query/key, which is what self-attention passes.
    inputs = [q] if k is q and v is q else [q, k] if v is k else [q, k, v]
    params = {"num_heads": m.num_heads, "dropout": m.dropout, "bias": m.in_proj_bias is not None}
    # The call returns (output, weights); the weights have no equivalent port.
    return Op("multi_head_attention", params, inputs, weights=attention_weights(m), tuple_ports=("out", None))


def _encoder_layer(node: fx.Node, m: nn.TransformerEncoderLayer, ctx: Any) -> Op:
    _check_attention(m.self_attn)
    if len(node.args) > 1 or any(v is not None and v is not False for v in node.kwargs.values()):
        raise Unsupported("masks are not supported")
    # PyTorch sets activation_relu_or_gelu to 1 for (F.)relu, 2 for (F.)gelu, 0 otherwise.
    activation = {1: "relu", 2: "gelu"}.get(m.activation_relu_or_gelu)
    if activation is None or getattr(m.activation, "approximate", "none") != "none":
        raise Unsupported(f"activation {m.activation!r}")
    if m.linear1.bias is None or m.self_attn.in_proj_bias is None:
        raise Unsupported("bias=False")
    params = {"nhead": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p,
              "activation": activation, "norm_first": m.norm_first, "layer_norm_eps": m.norm1.eps}
    weights = attention_weights(m.self_attn, "self_attn.")
    for name in ("linear1", "linear2", "norm1", "norm2"):
        weights |= {f"{name}.{k}": v for k, v in getattr(m, name).state_dict().items()}
    return Op("transformer_encoder_layer", params, [node.args[0]], weights=weights)


ATTENTION_MODULES: dict[type[nn.Module], Any] = {
    nn.MultiheadAttention: _multi_head_attention,
    nn.TransformerEncoderLayer: _encoder_layer,
}
