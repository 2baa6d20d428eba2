"""What ``validate`` returns: problems, per-node shapes/params/FLOPs, totals and memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Issue
from .registry import Shape

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .document import DocumentRead, GraphDocument

GIB = 1 << 30
# Bytes per value of what a training step holds, per precision mode of a run
# (RunConfig.precision.precision_mode, the same names from here to the browser). fp16, bf16 and
# dynamic are torch.autocast, as the engine trains: fp32 master weights, gradients and Adam's two
# moments (4 + 4 + 8 bytes per parameter), plus a 16-bit copy of every matmul/convolution weight
# that autocast casts and keeps for backward, and 16-bit activations out of the layers autocast
# runs in low precision. dynamic starts every layer in 16 bits; layers its probe moves to fp32
# keep fp32 activations, so a dynamic run needs between this figure and fp32's.
# Per mode: (weights, gradients, optimizer, weight copies, low-precision activations).
PRECISIONS = {"fp32": (4, 4, 8, 0, 4), "fp16": (4, 4, 8, 2, 2), "bf16": (4, 4, 8, 2, 2),
              "dynamic": (4, 4, 8, 2, 2)}
# Kinds of kept value (see ``kept_for_backward``), and their bytes in fp32 and in a 16-bit mode.
VALUE_BYTES = {"act": (4, 2), "fp32": (4, 4), "int64": (8, 8), "mask": (1, 1), "cast": (0, 2)}

# Layers autocast runs in 16 bits (their outputs are 16-bit, their weights cast).
MATMUL_TYPES = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                          "conv_transpose3d", "linear", "multi_head_attention", "transformer_encoder_layer",
                          "lstm", "gru", "prelu"})
# Layers autocast runs in fp32 whatever their input.
FP32_TYPES = frozenset({"layer_norm", "group_norm", "softmax", "log_softmax"})
# Layers whose output is a view of their input: no new memory.
VIEW_TYPES = frozenset({"flatten", "reshape", "permute", "transpose", "identity", "chunk", "select",
                        "expand_batch"})
# Layers that save their output for backward, not their input.
OUTPUT_SAVERS = frozenset({"relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "elu"})
# Layers whose backward needs neither input nor output (dropout keeps a one-byte mask instead).
NO_SAVE = frozenset({"add", "concat", "mean", "positional_encoding", "channel_shuffle", "dropout",
                     "dropout2d", "dropout3d"}) | VIEW_TYPES


def human_count(n: int) -> str:
    """``25_557_032`` -> ``25.6M``."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


@dataclass(frozen=True)
class Limits:
    """Graphs over these are refused before anything is built."""

    max_nodes: int = 2000
    max_edges: int = 8000
    max_params: int = 500_000_000
    max_memory_bytes: int = 64 * GIB  # estimated training memory in the cheapest precision


@dataclass
class NodeReport:
    type: str
    inputs: dict[str, Shape]
    outputs: dict[str, Shape]
    dtypes: dict[str, str]
    params: int
    flops: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "inputs": {port: list(shape) for port, shape in self.inputs.items()},
            "outputs": {port: list(shape) for port, shape in self.outputs.items()},
            "dtypes": dict(self.dtypes),
            "params": self.params,
            "flops": self.flops,
        }


@dataclass
class EdgeReport:
    source: str
    source_port: str
    target: str
    target_port: str
    shape: Shape | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_port": self.source_port,
            "target": self.target,
            "target_port": self.target_port,
            "shape": None if self.shape is None else list(self.shape),
        }


def memory_estimate(params: int, activations: list[tuple[int, str]],
                    matmul_params: int | None = None, transient: int = 0) -> dict[str, dict[str, int]]:
    """Training memory per precision, at its peak (the start of backward): weights, gradients, Adam
    state (two moments), autocast's 16-bit weight copies, the values kept for backward
    (``(count, kind)`` pairs from ``kept_for_backward``, batch included; a plain dtype name counts
    as ``act``, ``int64`` as eight bytes) and the ``transient`` values a layer's backward holds at
    once (``backward_transient``). ``matmul_params`` are the parameters autocast casts (default:
    all)."""
    cast = params if matmul_params is None else matmul_params
    out = {}
    for name, (weight, grad, optim, copy, act) in PRECISIONS.items():
        column = 0 if act == 4 else 1
        acts = sum(count * VALUE_BYTES.get(kind, VALUE_BYTES["act"])[column] for count, kind in activations)
        parts = {
            "weights": params * weight,
            "gradients": params * grad,
            "optimizer": params * optim,
            "weight_copies": cast * copy,
            "activations": acts,
            "backward_workspace": transient * act,
        }
        out[name] = {**parts, "total": sum(parts.values())}
    return out


def _numel(shape: tuple[int, ...] | list[int]) -> int:
    total = 1
    for d in shape:
        total *= int(d)
    return total


def _internal_values(node: NodeReport, params: Any) -> list[tuple[int, str]]:
    """What a composite layer keeps for backward inside itself (attention on the math path, which
    a CPU takes when training with dropout: the full [N, heads, L, S] score matrix)."""
    if node.type == "transformer_encoder_layer":
        n, length, d = node.inputs["in"]
        heads, ff = int(params.nhead), int(params.dim_feedforward)
        tokens, scores = n * length, n * heads * length * length
        dropping = float(params.dropout) > 0
        values = [(tokens * d * 6, "act"), (tokens * ff * 2, "act"), (tokens * d * 4, "fp32"),
                  (tokens * d * 2, "cast"), (scores, "act"), (scores, "fp32")]
        if dropping:
            values += [(scores, "act"), (scores + tokens * (ff + 2 * d), "mask"), (tokens * ff, "act")]
        return values
    if node.type == "multi_head_attention":
        n, length, d = node.inputs["query"] if "query" in node.inputs else next(iter(node.inputs.values()))
        heads = int(getattr(params, "num_heads", 1))
        source = next(iter(node.inputs.values()))
        s_len = source[1] if len(source) > 1 else length
        return [(n * length * d * 4, "act"), (n * heads * length * s_len, "act"),
                (n * heads * length * s_len, "fp32")]
    if node.type in ("lstm", "gru"):
        out = next(iter(node.outputs.values()))
        gates = 4 if node.type == "lstm" else 3
        return [(_numel(out) * (gates + 2), "act")]
    return []


def _users(nodes: dict[str, NodeReport], consumers: dict[tuple[str, str], list[str]], node_id: str,
           port: str) -> list[NodeReport]:
    """The nodes that read this output, looking through views (a flatten's readers read its source)."""
    found: list[NodeReport] = []
    for user in consumers.get((node_id, port), []):
        info = nodes.get(user)
        if info is None:
            continue
        if info.type in VIEW_TYPES:
            for view_port in info.outputs:
                found += _users(nodes, consumers, user, view_port)
        else:
            found.append(info)
    return found


def kept_for_backward(nodes: dict[str, NodeReport], edges: list[EdgeReport], inputs: list[str],
                      parsed: dict[str, Any]) -> list[tuple[int, str]]:
    """The values a training step keeps from the forward pass to the backward pass, as
    ``(count, kind)`` pairs (kinds in ``VALUE_BYTES``). A node's output is kept when the node
    saves its output (ReLU, sigmoid...) or a consumer needs its input (convolution, linear,
    normalisation...); a view costs nothing, a dropout a one-byte mask; an fp32 value feeding a
    layer autocast runs in 16 bits is kept again as its 16-bit copy. The graph's input batch is
    always counted."""
    consumers: dict[tuple[str, str], list[str]] = {}
    feeding: dict[str, list[EdgeReport]] = {}  # each node's incoming edges: one pass, not one per node
    for edge in edges:
        consumers.setdefault((edge.source, edge.source_port), []).append(edge.target)
        feeding.setdefault(edge.target, []).append(edge)
    kinds: dict[tuple[str, str], str] = {}
    values: list[tuple[int, str]] = []
    for node_id, info in nodes.items():
        incoming = [kinds.get((e.source, e.source_port), "act") for e in feeding.get(node_id, ())]
        for port, shape in info.outputs.items():
            dtype = info.dtypes.get(port, "float32")
            if dtype in ("int64", "int32", "bool"):
                kind = "int64"
            elif info.type in MATMUL_TYPES:
                kind = "act"
            elif info.type in FP32_TYPES or not info.inputs or "fp32" in incoming:
                kind = "fp32"
            else:
                kind = incoming[0] if incoming else "act"
            kinds[(node_id, port)] = kind
            count = _numel(shape)
            users = _users(nodes, consumers, node_id, port)
            if info.type in VIEW_TYPES or not info.inputs and node_id not in inputs:
                continue  # a view, or a parameter node (its weight is counted with the weights)
            kept = node_id in inputs or info.type in OUTPUT_SAVERS or any(
                u.type not in NO_SAVE and u.type not in OUTPUT_SAVERS for u in users)
            if kept:
                values.append((count, kind))
                if kind == "fp32" and any(u.type in MATMUL_TYPES for u in users):
                    values.append((count, "cast"))
            if info.type.startswith("dropout"):
                values.append((count, "mask"))
        values += _internal_values(info, parsed.get(node_id))
    return values


def backward_transient(nodes: dict[str, NodeReport]) -> int:
    """Values one layer's backward holds beside what is kept: the gradients of its input and its
    output, alive together (the largest layer sets the figure)."""
    sizes = [sum(_numel(s) for s in info.inputs.values()) + sum(_numel(s) for s in info.outputs.values())
             for info in nodes.values() if info.inputs and info.type not in VIEW_TYPES]
    return max(sizes, default=0)


def matmul_parameter_count(nodes: dict[str, NodeReport]) -> int:
    """Parameters autocast casts to 16 bits (those of the layers in ``MATMUL_TYPES``)."""
    return sum(info.params for info in nodes.values() if info.type in MATMUL_TYPES)


@dataclass
class ValidationReport:
    """Everything ``validate`` found. ``to_dict`` is the JSON the API serves; ``document``
    and ``parsed_params`` are for the compiler and stay out of it."""

    ok: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    nodes: dict[str, NodeReport] = field(default_factory=dict)
    edges: list[EdgeReport] = field(default_factory=list)
    topological_order: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # "node_id:port"
    batch_size: int = 1
    params: int = 0
    flops: int = 0
    memory: dict[str, dict[str, int]] = field(default_factory=dict)
    parsed_params: dict[str, BaseModel] = field(default_factory=dict)
    source: DocumentRead | None = field(default=None, repr=False)

    @property
    def document(self) -> GraphDocument | None:
        """The document validated (as read: unvalidated when ``ok`` is false)."""
        return self.source.to_document() if self.source is not None else None

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "flops": self.flops,
            "batch_size": self.batch_size,
            "memory": self.memory,
        }

    def errors_for(self, node_id: str) -> list[Issue]:
        return [e for e in self.errors if e.node_id == node_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
            "nodes": {node_id: info.to_dict() for node_id, info in self.nodes.items()},
            "edges": [e.to_dict() for e in self.edges],
            "totals": self.totals,
            "topological_order": list(self.topological_order),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }
