"""The validator's structural passes: layer types and params, edges and ports, cycles, the
graph's inputs and outputs, unconnected ports and nodes that reach no output."""

from __future__ import annotations

import difflib

from pydantic import ValidationError

from . import topology
from .document import RESERVED_IDS, DocumentRead, RawEdge, RawNode
from .errors import explain_param_errors
from .registry import registry
from .validate_base import NodeState, ValidationPass


class StructureChecks(ValidationPass):
    """Each check records every problem it finds and leaves what it could not use unknown."""

    # ---- nodes and edges ---------------------------------------------------------------
    def resolve_node(self, node: RawNode, index: int, broken: bool) -> NodeState:
        state = NodeState(node, index)
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

    def connect(self, edges: list[RawEdge]) -> None:
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
                self.fed_twice.append((self.report.errors[-1], previous, (edge.source, edge.source_port)))
                continue
            tgt.incoming[edge.target_port] = (edge.source, edge.source_port)
            src.outgoing.append(edge)
            src.children.append(edge.target)
            self.edges.append(edge)

    def find_cycles(self) -> set[str]:
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
    def resolve_inputs(self, doc: DocumentRead) -> list[str]:
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

    def resolve_outputs(self, doc: DocumentRead) -> list[str]:
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

    def check_unconnected(self, cyclic: set[str]) -> None:
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

    def warn_unused(self, outputs: list[str], cyclic: set[str]) -> None:
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
