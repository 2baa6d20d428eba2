"""Validation with shape inference: every problem at once, as records the canvas can pin.

``validate`` never raises. It reads the document leniently, checks structure (ids, types,
params, edges, cycles, inputs/outputs), then walks the graph in topological order giving every
node whose inputs are known its output shapes, parameter count and FLOPs. A node downstream of
a problem is simply left unknown, so one mistake reports one error, not a cascade. The passes
live in ``validate_structure`` and ``validate_shapes``; this module runs them in order.
"""

from __future__ import annotations

import dataclasses

from . import topology
from .document import read_document
from .errors import Issue
from .layers.merge import broadcast
from .registry import ShapeError
from .report import Limits, ValidationReport
from .validate_shapes import ShapeInference
from .validate_structure import StructureChecks

__all__ = ["Limits", "ValidationReport", "validate"]

MAX_BATCH_SIZE = 1 << 20


def validate(graph: object, batch_size: int = 1, limits: Limits | None = None) -> ValidationReport:
    """Check a graph (a ``GraphDocument``, dict or JSON text) and infer its shapes for
    ``batch_size`` samples. Returns a report; ``report.ok`` is true when it can be compiled."""
    try:
        return Validator(graph, batch_size, limits or Limits()).run()
    except Exception as exc:  # noqa: BLE001  (a bug here must not take the request down)
        report = ValidationReport()
        report.errors.append(Issue("internal_error", f"validation failed unexpectedly: {exc!r}"))
        return report


class Validator(StructureChecks, ShapeInference):
    """Runs the passes in order over one document."""

    def settle_merge_fixes(self) -> None:
        """A port fed twice is offered an inserted ``add`` before shapes are known; now that they
        are, the fix is withdrawn where the two tensors do not broadcast together (an ``add`` there
        would be an error of its own). The message still names both ways to combine them."""
        nodes = self.report.nodes
        for issue, first, second in self.fed_twice:
            shapes = {}
            for port, (source, source_port) in zip(("in0", "in1"), (first, second), strict=True):
                info = nodes.get(source)
                if info is None or source_port not in info.outputs:
                    break
                shapes[port] = tuple(info.outputs[source_port])
            else:
                try:
                    broadcast("add", shapes)
                except ShapeError:
                    errors = self.report.errors
                    at = next(i for i, recorded in enumerate(errors) if recorded is issue)
                    errors[at] = dataclasses.replace(issue, fix=None)

    def run(self) -> ValidationReport:
        report = self.report
        read = read_document(self.graph)
        report.errors.extend(read.issues)
        report.source = read
        if type(self.batch) is not int or not 1 <= self.batch <= MAX_BATCH_SIZE:
            self.error(
                "invalid_batch_size",
                f"batch size must be an integer from 1 to {MAX_BATCH_SIZE}, not {self.batch!r}",
            )
            self.batch = 1
        report.batch_size = self.batch
        if len(read.nodes) > self.limits.max_nodes or len(read.edges) > self.limits.max_edges:
            self.error(
                "too_large",
                f"the graph has {len(read.nodes)} nodes and {len(read.edges)} edges; the limit is "
                f"{self.limits.max_nodes} nodes and {self.limits.max_edges} edges",
            )
            return report
        for index, node in enumerate(read.nodes):
            self.states[node.id] = self.resolve_node(node, index, node.id in read.broken)
        self.connect(read.edges)
        cyclic = self.find_cycles()
        children = {node_id: state.children for node_id, state in self.states.items()}
        order = topology.topological_order(children, {n: s.index for n, s in self.states.items()})
        report.topological_order = order
        report.inputs = self.resolve_inputs(read)
        self.check_unconnected(cyclic)
        self.propagate(order)
        self.settle_merge_fixes()
        report.outputs = self.resolve_outputs(read)
        self.warn_unused(report.outputs, cyclic)
        self.totals()
        report.ok = not report.errors
        return report
