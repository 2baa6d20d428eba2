"""The validator's shape pass: walk the graph in topological order giving every node whose inputs
are known its output shapes, dtypes, parameter count and FLOPs; then the totals and limits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from . import fixes
from .registry import LayerType, ShapeError
from .report import (
    EdgeReport,
    NodeReport,
    backward_transient,
    human_count,
    kept_for_backward,
    matmul_parameter_count,
    memory_estimate,
)
from .validate_base import NodeState, ValidationPass


class ShapeInference(ValidationPass):
    """A node with an unknown input stays unknown: one mistake gives one error, not a cascade."""

    def propagate(self, order: list[str]) -> None:
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
                self.infer_node(state, layer, params, in_shapes, in_dtypes)
        for edge in self.edges:
            source = known.get(edge.source)
            shape = source.outputs.get(edge.source_port) if source else None
            self.report.edges.append(
                EdgeReport(edge.source, edge.source_port, edge.target, edge.target_port, shape)
            )

    def infer_node(
        self,
        state: NodeState,
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
            fix = self.offered_fix(state, exc, layer, params, in_shapes, in_dtypes)
            self.error(exc.code, self.phrase(state, exc), state.node.id, port=exc.port, fix=fix)
            return
        except Exception as exc:  # noqa: BLE001  (a plugin's bug becomes one error on its node)
            self.error("layer_error", f"{state.label} failed to work out its shapes: {exc!r}", state.node.id)
            return
        for note in advice:
            fix = fixes.checked(note.fix, layer, params, in_shapes, in_dtypes, port=note.port, code=note.code)
            self.warn(note.code, self.phrase(state, note), state.node.id, port=note.port, fix=fix)
        self.report.nodes[state.node.id] = NodeReport(
            state.node.type, in_shapes, outputs, dtypes, param_count, flops
        )

    def offered_fix(
        self,
        state: NodeState,
        exc: ShapeError,
        layer: LayerType,
        params: BaseModel,
        in_shapes: dict[str, tuple[int, ...]],
        in_dtypes: dict[str, str],
    ) -> dict[str, Any] | None:
        """The shape rule's own fix, else a parameter change from ``layer.remedies``; offered
        only once checked to make this node's rule accept its inputs."""
        fix = exc.fix
        if fix is None and exc.code == "shape_mismatch" and not layer.is_input:
            fix = fixes.remedy(layer, params, in_shapes)
        if fix == {"insert": "embedding"} and exc.port in state.incoming:
            # The new embedding's vocabulary is the token input's, when a token input feeds it.
            source = state.incoming[exc.port][0]
            vocab = getattr(self.report.parsed_params.get(source), "vocab_size", None)
            if isinstance(vocab, int):
                fix = {"insert": "embedding", "params": {"num_embeddings": vocab}}
        return fixes.checked(fix, layer, params, in_shapes, in_dtypes, port=exc.port, code=exc.code)

    def phrase(self, state: NodeState, exc: ShapeError) -> str:
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
    def totals(self) -> None:
        report = self.report
        report.params = sum(info.params for info in report.nodes.values())
        report.flops = sum(info.flops for info in report.nodes.values())
        # What backward needs of the forward pass, as the engine trains (see kept_for_backward).
        activations = kept_for_backward(report.nodes, report.edges, report.inputs, report.parsed_params)
        report.memory = memory_estimate(report.params, activations, matmul_parameter_count(report.nodes),
                                        backward_transient(report.nodes))
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
