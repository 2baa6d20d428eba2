"""Resolve a validated graph document into an ordered build plan.

The compiler and the source exporter both walk the graph the same way: nodes in topological
order, each with its layer type, parsed params, the (node, port) feeding each input port and
the shapes arriving there; then the forward() arguments and return values. Nodes that no output
depends on are left out (validation warns about them). Everything comes from an ok
``ValidationReport``, so nothing is parsed or inferred twice.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from .registry import LayerType, Shape, registry
from .report import ValidationReport

PortRef = tuple[str, str]  # (node id, output port)


@dataclass(frozen=True)
class PlannedNode:
    """One node ready to build: ``sources[port]`` is the output feeding input ``port``
    (``None`` for an unconnected optional port)."""

    id: str
    layer: LayerType
    params: BaseModel
    sources: dict[str, PortRef | None]
    in_shapes: dict[str, Shape]
    out_ports: list[str]
    out_shapes: dict[str, Shape]


@dataclass(frozen=True)
class BuildPlan:
    nodes: list[PlannedNode]  # topological order; only nodes the outputs depend on, plus inputs
    inputs: list[str]  # input-node ids in forward() argument order
    outputs: list[PortRef]  # returned in this order


def make_plan(report: ValidationReport) -> BuildPlan:
    """Build plan from an ok validation report (which carries the parsed document, params,
    topological order, resolved inputs/outputs and every node's shapes)."""
    if not report.ok or report.document is None:
        raise ValueError("make_plan needs the report of a graph that validated")
    types = {node.id: node.type for node in report.document.nodes}
    incoming: dict[str, dict[str, PortRef]] = {node_id: {} for node_id in types}
    for edge in report.edges:
        incoming[edge.target][edge.target_port] = (edge.source, edge.source_port)
    outputs = [_split_ref(ref) for ref in report.outputs]
    needed = _ancestors([node_id for node_id, _ in outputs], incoming) | set(report.inputs)

    planned = []
    for node_id in report.topological_order:
        if node_id not in needed:
            continue
        layer = registry.get(types[node_id])
        assert layer is not None  # validation resolved every type
        params = report.parsed_params[node_id]
        info = report.nodes[node_id]
        planned.append(
            PlannedNode(
                id=node_id,
                layer=layer,
                params=params,
                sources={port: incoming[node_id].get(port) for port in layer.input_ports(params)},
                in_shapes=dict(info.inputs),
                out_ports=layer.output_ports(params),
                out_shapes=dict(info.outputs),
            )
        )
    return BuildPlan(nodes=planned, inputs=list(report.inputs), outputs=outputs)


def _split_ref(ref: str) -> PortRef:
    node_id, _, port = ref.partition(":")
    return node_id, port


def _ancestors(roots: list[str], incoming: Mapping[str, Mapping[str, PortRef]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(src for src, _ in incoming[n].values())
    return seen
