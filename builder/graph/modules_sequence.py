"""The sequence family of ``builder.graph.modules``: attention, the transformer encoder layer,
positional encodings and the recurrent layers. Batch-first, traceable by ``torch.fx`` and
compilable by TorchScript, like the rest; source export inlines these classes too, so this
module imports only what a generated file imports (``math``, ``torch``, ``F``, ``nn``).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention on ``F.scaled_dot_product_attention``.

    ``key`` defaults to ``query`` and ``value`` to ``key`` (self-attention). Inputs are
    ``[N, L, E]`` (query) and ``[N, S, kdim]``/``[N, S, vdim]``; the output is ``[N, L, E]``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kdim: int,
        vdim: int,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.causal = causal
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(kdim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(vdim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None) -> Tensor:
        if key is None:
            key = query
        if value is None:
            value = key
        n, length = query.size(0), query.size(1)
        q = self.q_proj(query).reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(key).reshape(n, -1, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(value).reshape(n, -1, self.num_heads, self.head_dim).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
        return self.out_proj(out.transpose(1, 2).reshape(n, length, -1))

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.q_proj.in_features}, num_heads={self.num_heads}, kdim={self.k_proj.in_features}, "
            f"vdim={self.v_proj.in_features}, dropout={self.dropout!r}, bias={self.q_proj.bias is not None}, "
            f"causal={self.causal}"
        )


class TransformerEncoderLayer(nn.Module):
    """Self-attention plus feed-forward block (post-norm by default, pre-norm with
    ``norm_first``), written out so that fx traces it and SDPA runs the attention."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, nhead, d_model, d_model, dropout=dropout, causal=causal)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.activation = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _attention(self, x: Tensor) -> Tensor:
        return self.dropout1(self.self_attn(x))

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_first:
            x = x + self._attention(self.norm1(x))
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._attention(x))
        return self.norm2(x + self._feed_forward(x))

    def extra_repr(self) -> str:
        activation = "gelu" if isinstance(self.activation, nn.GELU) else "relu"
        return (
            f"d_model={self.linear1.in_features}, nhead={self.self_attn.num_heads}, "
            f"dim_feedforward={self.linear1.out_features}, dropout={self.dropout.p!r}, "
            f"activation={activation!r}, norm_first={self.norm_first}, "
            f"layer_norm_eps={self.norm1.eps!r}, causal={self.self_attn.causal}"
        )


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """The ``[1, max_len, d_model]`` sine/cosine table of "Attention Is All You Need"."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d_model // 2]
    return table.unsqueeze(0)


class PositionalEncoding(nn.Module):
    """Adds a position table to ``[N, L, E]``: fixed sinusoids or a learned ``[1, max_len, E]``."""

    def __init__(self, d_model: int, max_len: int, kind: str = "sinusoidal", dropout: float = 0.0) -> None:
        super().__init__()
        if kind == "learned":
            self.table = nn.Parameter(torch.empty(1, max_len, d_model))
            nn.init.normal_(self.table, std=0.02)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + torch.narrow(self.table, 1, 0, x.size(1)))

    def extra_repr(self) -> str:
        kind = "learned" if isinstance(self.table, nn.Parameter) else "sinusoidal"
        return (
            f"d_model={self.table.shape[-1]}, max_len={self.table.shape[1]}, kind={kind!r}, "
            f"dropout={self.dropout.p!r}"
        )


def _recurrent_repr(rnn: nn.RNNBase) -> str:
    """Constructor arguments of ``LSTMLayer``/``GRULayer``, read back from the wrapped RNN."""
    return (
        f"input_size={rnn.input_size}, hidden_size={rnn.hidden_size}, num_layers={rnn.num_layers}, "
        f"bidirectional={rnn.bidirectional}, dropout={float(rnn.dropout)!r}, bias={rnn.bias}"
    )


def _last_hidden(h: Tensor, bidirectional: bool) -> Tensor:
    """Final hidden state of the top layer, both directions side by side: ``[N, H * dirs]``."""
    if bidirectional:
        return torch.cat([h[-2], h[-1]], dim=1)
    return h[-1]


class RecurrentLayer(nn.Module):
    """Batch-first ``rnn_class`` returning ``(out [N, L, H*dirs], last [N, H*dirs])``."""

    rnn_class = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.rnn = self.rnn_class(
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.bidirectional = bidirectional

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, state = self.rnn(x)
        return out, _last_hidden(self.hidden_state(state), self.bidirectional)

    @staticmethod
    def hidden_state(state: Tensor) -> Tensor:
        return state

    def extra_repr(self) -> str:
        return _recurrent_repr(self.rnn)


class LSTMLayer(RecurrentLayer):
    """Batch-first LSTM returning ``(out [N, L, H*dirs], last [N, H*dirs])``."""

    rnn_class = nn.LSTM  # type: ignore[assignment]  # nn.RNN, nn.LSTM and nn.GRU share a constructor

    @staticmethod
    def hidden_state(state: tuple[Tensor, Tensor]) -> Tensor:  # type: ignore[override]
        return state[0]  # (h, c): the hidden state, not the cell


class GRULayer(RecurrentLayer):
    """Batch-first GRU returning ``(out [N, L, H*dirs], last [N, H*dirs])``."""

    rnn_class = nn.GRU  # type: ignore[assignment]
