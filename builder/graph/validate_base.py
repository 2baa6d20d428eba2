"""What the validator's passes share: the state of each node, and where problems go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .document import RawEdge, RawNode
from .errors import Issue
from .registry import LayerType
from .report import Limits, ValidationReport


@dataclass
class NodeState:
    """What the validator knows about one node."""

    node: RawNode
    index: int
    layer: LayerType | None = None
    params: BaseModel | None = None
    in_ports: list[str] | None = None  # None: unknown, accept any edge
    out_ports: list[str] | None = None
    optional: frozenset[str] = frozenset()
    incoming: dict[str, tuple[str, str]] = field(default_factory=dict)  # port -> (source, port)
    outgoing: list[RawEdge] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.node.type} '{self.node.id}'" if self.node.type else f"'{self.node.id}'"


class ValidationPass:
    """The report being written, every node's state and the accepted edges; each pass (structure,
    shapes) is a mixin over this, and ``validate``'s ``Validator`` runs them in order."""

    def __init__(self, graph: object, batch_size: int, limits: Limits) -> None:
        self.graph = graph
        self.limits = limits
        self.report = ValidationReport()
        self.batch = batch_size
        self.states: dict[str, NodeState] = {}
        self.edges: list[RawEdge] = []
        # Each "port_already_connected" error's issue with the two (source, port) that feed it.
        self.fed_twice: list[tuple[Issue, tuple[str, str], tuple[str, str]]] = []

    def error(self, code: str, message: str, node_id: str | None = None, **where: Any) -> None:
        """Record an error; ``where`` may name the ``port``, ``param`` and a ``fix``."""
        self.report.errors.append(Issue(code, message, node_id, **where))

    def warn(self, code: str, message: str, node_id: str | None = None, **where: Any) -> None:
        self.report.warnings.append(Issue(code, message, node_id, **where))
