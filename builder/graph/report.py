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
# Bytes per value in each precision mode of a run (RunConfig.precision.precision_mode, the same
# names from here to the browser): weights, gradients, Adam's two moments, kept activations.
# fp16 and bf16 are torch.autocast, as the engine trains: fp32 master weights and optimizer state,
# 16-bit activations. dynamic starts every layer in 16 bits; layers its probe moves to fp32 keep
# fp32 activations, so a dynamic run needs between this figure and fp32's.
PRECISIONS = {"fp32": (4, 4, 8, 4), "fp16": (4, 4, 8, 2), "bf16": (4, 4, 8, 2), "dynamic": (4, 4, 8, 2)}


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


def memory_estimate(params: int, activations: list[tuple[int, str]]) -> dict[str, dict[str, int]]:
    """Training memory per precision: weights, gradients, Adam state (two moments) and the
    activations kept for backward (every node output, batch included). Token ids stay int64."""
    out = {}
    for name, (weight, grad, optim, act) in PRECISIONS.items():
        acts = sum(count * (8 if dtype == "int64" else act) for count, dtype in activations)
        parts = {
            "weights": params * weight,
            "gradients": params * grad,
            "optimizer": params * optim,
            "activations": acts,
        }
        out[name] = {**parts, "total": sum(parts.values())}
    return out


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
