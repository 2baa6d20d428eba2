"""Validation with shape inference: every problem at once, as records the canvas can pin.

``validate`` never raises. It reads the document leniently, checks structure (ids, types,
params, edges, cycles, inputs/outputs), then walks the graph in topological order giving every
node whose inputs are known its output shapes, parameter count and FLOPs. A node downstream of
a problem is simply left unknown, so one mistake reports one error, not a cascade.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from . import topology
from .document import RESERVED_IDS, DocumentRead, RawEdge, RawNode, read_document
from .errors import Issue, explain_param_errors
from .registry import LayerType, ShapeError, registry
from .report import EdgeReport, Limits, NodeReport, ValidationReport, human_count, memory_estimate

__all__ = ["Limits", "ValidationReport", "validate"]

MAX_BATCH_SIZE = 1 << 20


def validate(graph: object, batch_size: int = 1, limits: Limits | None = None) -> ValidationReport:
    """Check a graph (a ``GraphDocument``, dict or JSON text) and infer its shapes for
    ``batch_size`` samples. Returns a report; ``report.ok`` is true when it can be compiled."""
    try:
        return _Validator(graph, batch_size, limits or Limits()).run()
    except Exception as exc:  # noqa: BLE001  (a bug here must not take the request down)
        report = ValidationReport()
        report.errors.append(Issue("internal_error", f"validation failed unexpectedly: {exc!r}"))
        return report


@dataclass
class _State:
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


class _Validator:
    def __init__(self, graph: object, batch_size: int, limits: Limits) -> None:
        self.graph = graph
        self.limits = limits
        self.report = ValidationReport()
        self.batch = batch_size
        self.states: dict[str, _State] = {}
        self.edges: list[RawEdge] = []

    def error(self, code: str, message: str, node_id: str | None = None, **where: Any) -> None:
        """Record an error; ``where`` may name the ``port``, ``param`` and a ``fix``."""
        self.report.errors.append(Issue(code, message, node_id, **where))

    def warn(self, code: str, message: str, node_id: str | None = None, **where: Any) -> None:
        self.report.warnings.append(Issue(code, message, node_id, **where))

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
            self.states[node.id] = self._resolve(node, index, node.id in read.broken)
        self._connect(read.edges)
        cyclic = self._find_cycles()
        children = {node_id: state.children for node_id, state in self.states.items()}
        order = topology.topological_order(children, {n: s.index for n, s in self.states.items()})
        report.topological_order = order
        report.inputs = self._resolve_inputs(read)
        self._check_unconnected(cyclic)
        self._propagate(order)
        report.outputs = self._resolve_outputs(read)
        self._warn_unused(report.outputs, cyclic)
        self._totals()
        report.ok = not report.errors
        return report

    # ---- nodes and edges ---------------------------------------------------------------
    def _resolve(self, node: RawNode, index: int, broken: bool) -> _State:
        state = _State(node, index)
        if broken:
            return state
        layer = registry.get(node.type)
        if layer is None:
            close = difflib.get_close_matches(node.type, registry.ids(), n=1)
            hint = f": did you mean {close[0]}?" if close else ""
            self.error(
                "unknown_type",
                f"node '{node.id}' has unknown layer type '{node.type}'{hint}",
                node.id,
                fix={"type": close[0]} if close else None,
            )
            return state
        state.layer = layer
        if node.id in RESERVED_IDS and not layer.is_input:
            self.error(
                "reserved_id",
                f"node id '{node.id}' is reserved (a method or attribute of the compiled module): "
                "rename the node",
                node.id,
            )
        if layer.variadic_outputs_param is None:
            state.out_ports = [p.name for p in layer.outputs]
        if layer.variadic_param is None:
            state.in_ports = [p.name for p in layer.inputs]
            state.optional = frozenset(p.name for p in layer.inputs if p.optional)
        try:
            params = layer.parse_params(node.params)
            state.in_ports, state.out_ports = layer.input_ports(params), layer.output_ports(params)
        except ValidationError as exc:
            for param, message in explain_param_errors(exc, layer.id):
                self.error("invalid_param", f"{state.label}: {message}", node.id, param=param)
            return state
        except Exception as exc:  # noqa: BLE001  (a plugin's bug becomes one error on its node)
            self.error("layer_error", f"{state.label} failed to read its params: {exc!r}", node.id)
            return state
        state.params = self.report.parsed_params[node.id] = params
        return state

    def _connect(self, edges: list[RawEdge]) -> None:
        seen: set[tuple[str, str, str, str]] = set()
        for edge in edges:
            src, tgt = self.states.get(edge.source), self.states.get(edge.target)
            text = f"edge {edge.source}:{edge.source_port} -> {edge.target}:{edge.target_port}"
            if src is None or tgt is None:
                missing = edge.source if src is None else edge.target
                known = tgt or src
                self.error(
                    "dangling_edge",
                    f"{text} refers to a node '{missing}' that doesn't exist",
                    known.node.id if known else None,
                )
                continue
            if src.out_ports is not None and edge.source_port not in src.out_ports:
                self.error(
                    "dangling_edge",
                    f"{src.label} has no output '{edge.source_port}' (it has {', '.join(src.out_ports)})",
                    src.node.id,
                    port=edge.source_port,
                )
                continue
            if tgt.in_ports is not None and edge.target_port not in tgt.in_ports:
                has = f"it has {', '.join(tgt.in_ports)}" if tgt.in_ports else "it takes no inputs"
                self.error(
                    "dangling_edge",
                    f"{tgt.label} has no input '{edge.target_port}' ({has})",
                    tgt.node.id,
                    port=edge.target_port,
                )
                continue
            key = (edge.source, edge.source_port, edge.target, edge.target_port)
            if key in seen:
                self.error("duplicate_edge", f"{text} appears twice", tgt.node.id, port=edge.target_port)
                continue
            seen.add(key)
            previous = tgt.incoming.get(edge.target_port)
            if previous is not None:
                self.error(
                    "port_already_connected",
                    f"{tgt.label} input '{edge.target_port}' is already fed by "
                    f"'{previous[0]}'; combine '{previous[0]}' and '{edge.source}' with an add or concat first",
                    tgt.node.id,
                    port=edge.target_port,
                    fix={"insert": "add"},
                )
                continue
            tgt.incoming[edge.target_port] = (edge.source, edge.source_port)
            src.outgoing.append(edge)
            src.children.append(edge.target)
            self.edges.append(edge)

    def _find_cycles(self) -> set[str]:
        children = {node_id: state.children for node_id, state in self.states.items()}
        cyclic: set[str] = set()
        for component in topology.cycles(children):
            cyclic.update(component)
            ordered = sorted(component, key=lambda n: self.states[n].index)
            ring = " -> ".join([*ordered, ordered[0]])
            for member in ordered:
                label = self.states[member].label
                self.error("cycle", f"{label} is part of a cycle ({ring}); models must flow one way", member)
        return cyclic

    # ---- inputs, outputs, reachability ------------------------------------------------
    def _resolve_inputs(self, doc: DocumentRead) -> list[str]:
        input_nodes = [s.node.id for s in self.states.values() if s.layer is not None and s.layer.is_input]
        if doc.inputs is None:
            inputs = input_nodes
        else:
            inputs = []
            for node_id in doc.inputs:
                listed = self.states.get(node_id)
                if listed is None:
                    self.error("invalid_document", f"inputs lists '{node_id}', which is not a node")
                elif listed.layer is not None and not listed.layer.is_input:
                    self.error(
                        "invalid_document",
                        f"inputs lists {listed.label}, which is not an input layer",
                        node_id,
                    )
                elif node_id in inputs:
                    self.error("invalid_document", f"inputs lists '{node_id}' twice", node_id)
                else:
                    inputs.append(node_id)
            for node_id in input_nodes:
                if node_id not in inputs and self.states[node_id].outgoing:
                    self.error(
                        "invalid_document",
                        f"{self.states[node_id].label} is connected but not listed in "
                        "inputs, so forward() would never receive it",
                        node_id,
                    )
        if not inputs:
            self.error(
                "no_inputs",
                "the graph has no input layer: add an image_input, vector_input, "
                "sequence_input, token_input or volume_input",
            )
        return inputs

    def _resolve_outputs(self, doc: DocumentRead) -> list[str]:
        refs: list[str] = []
        if doc.outputs is None:
            for state in self.states.values():
                if not state.outgoing and not (state.layer is not None and state.layer.is_input):
                    refs.append(f"{state.node.id}:{(state.out_ports or ['out'])[0]}")
        else:
            for ref in doc.outputs:
                node_id, _, port = ref.partition(":")
                target = self.states.get(node_id)
                if target is None:
                    self.error("invalid_document", f"outputs lists '{ref}', but there is no node '{node_id}'")
                    continue
                port = port or (target.out_ports or ["out"])[0]
                if target.out_ports is not None and port not in target.out_ports:
                    self.error(
                        "invalid_document",
                        f"outputs lists '{ref}', but {target.label} has no output "
                        f"'{port}' (it has {', '.join(target.out_ports)})",
                        node_id,
                        port=port,
                    )
                elif f"{node_id}:{port}" in refs:
                    self.error("invalid_document", f"outputs lists '{ref}' twice", node_id, port=port)
                else:
                    refs.append(f"{node_id}:{port}")
        if not refs:
            self.error(
                "no_outputs",
                "the graph has no output: every layer feeds another one"
                if self.states
                else "the graph is empty: add an input layer and connect layers to it",
            )
        return refs

    def _check_unconnected(self, cyclic: set[str]) -> None:
        for state in self.states.values():
            if state.in_ports is None or state.node.id in cyclic:
                continue
            for port in state.in_ports:
                if port not in state.incoming and port not in state.optional:
                    what = "its input" if len(state.in_ports) == 1 else f"input '{port}'"
                    self.error(
                        "missing_input",
                        f"{state.label} has nothing connected to {what}",
                        state.node.id,
                        port=port,
                    )

    def _warn_unused(self, outputs: list[str], cyclic: set[str]) -> None:
        parents = {
            node_id: [src for src, _ in state.incoming.values()] for node_id, state in self.states.items()
        }
        # resolved refs are "node:port"; a port never holds a colon, an invalid node id may
        reached = topology.upstream((ref.rpartition(":")[0] for ref in outputs), parents)
        for node_id, state in self.states.items():
            if node_id in reached or node_id in cyclic:
                continue
            if state.layer is not None and state.layer.is_input:
                self.warn("unused_input", f"{state.label} doesn't reach any output", node_id)
            else:
                self.warn("unused_node", f"{state.label} doesn't reach any output, so it won't run", node_id)

    # ---- shapes -------------------------------------------------------------------------
    def _propagate(self, order: list[str]) -> None:
        known = self.report.nodes
        for node_id in order:
            state = self.states[node_id]
            layer, params = state.layer, state.params
            if layer is None or params is None or state.in_ports is None:
                continue
            in_shapes: dict[str, tuple[int, ...]] = {}
            in_dtypes: dict[str, str] = {}
            complete = True
            for port in state.in_ports:
                link = state.incoming.get(port)
                source = known.get(link[0]) if link else None
                if link is None and port in state.optional:
                    continue
                if link is None or source is None or link[1] not in source.outputs:
                    complete = False
                    break
                in_shapes[port] = source.outputs[link[1]]
                in_dtypes[port] = source.dtypes.get(link[1], "float32")
            if complete:
                self._infer_node(state, layer, params, in_shapes, in_dtypes)
        for edge in self.edges:
            source = known.get(edge.source)
            shape = source.outputs.get(edge.source_port) if source else None
            self.report.edges.append(
                EdgeReport(edge.source, edge.source_port, edge.target, edge.target_port, shape)
            )

    def _infer_node(
        self,
        state: _State,
        layer: LayerType,
        params: BaseModel,
        in_shapes: dict[str, tuple[int, ...]],
        in_dtypes: dict[str, str],
    ) -> None:
        try:
            dtypes = layer.output_dtypes(params, in_dtypes)
            if layer.is_input:
                outputs = {
                    state.out_ports[0] if state.out_ports else "out": (
                        self.batch,
                        *layer.sample_shape(params),
                    )
                }
            else:
                outputs = layer.infer(params, in_shapes)
            outputs = {port: tuple(shape) for port, shape in outputs.items()}
            bad = [p for p in state.out_ports or () if not _is_shape(outputs.get(p))]
            if bad:
                raise ShapeError(
                    f"{layer.id} gives an empty or invalid shape on '{bad[0]}': {outputs.get(bad[0])!r}"
                )
            param_count = int(layer.param_count(params, in_shapes))
            flops = int(layer.flops(params, in_shapes, outputs))
            advice = layer.advice(params, in_shapes)
        except ShapeError as exc:
            self.error(exc.code, self._phrase(state, exc), state.node.id, port=exc.port, fix=exc.fix)
            return
        except Exception as exc:  # noqa: BLE001  (a plugin's bug becomes one error on its node)
            self.error("layer_error", f"{state.label} failed to work out its shapes: {exc!r}", state.node.id)
            return
        for note in advice:
            self.warn(note.code, self._phrase(state, note), state.node.id, port=note.port, fix=note.fix)
        self.report.nodes[state.node.id] = NodeReport(
            state.node.type, in_shapes, outputs, dtypes, param_count, flops
        )

    def _phrase(self, state: _State, exc: ShapeError) -> str:
        """Name the node and, for the input at fault, the node feeding it."""
        type_id, message = state.node.type, exc.message
        if message.startswith(type_id + " "):
            message = f"{state.label} {message[len(type_id) + 1 :]}"
        else:
            message = f"{state.label}: {message}"
        link = state.incoming.get(exc.port) if exc.port else None
        if link is not None and " got " in message:
            return message.replace(" got ", f" '{link[0]}' gives ", 1)
        if len(state.incoming) > 1:
            feeds = [
                f"{port} from '{state.incoming[port][0]}'"
                for port in state.in_ports or ()
                if port in state.incoming
            ]
            message += f" ({', '.join(feeds)})"
        return message

    # ---- totals and limits -------------------------------------------------------------
    def _totals(self) -> None:
        report = self.report
        report.params = sum(info.params for info in report.nodes.values())
        report.flops = sum(info.flops for info in report.nodes.values())
        # Every node output is kept for backward; a parameter node's output is its weight.
        activations = [
            (_numel(shape), info.dtypes.get(port, "float32"))
            for node_id, info in report.nodes.items()
            if info.inputs or node_id in report.inputs
            for port, shape in info.outputs.items()
        ]
        report.memory = memory_estimate(report.params, activations)
        if report.params > self.limits.max_params:
            self.error(
                "too_large",
                f"the model has {human_count(report.params)} parameters; the limit is "
                f"{human_count(self.limits.max_params)}",
            )
        cheapest = min(m["total"] for m in report.memory.values())
        if cheapest > self.limits.max_memory_bytes:
            self.error(
                "too_large",
                f"training would need about {cheapest / 2**30:.1f} GiB at batch size "
                f"{self.batch}; the limit is {self.limits.max_memory_bytes / 2**30:.1f} GiB",
            )


def _is_shape(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(d, int) and d >= 1 for d in value)


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
