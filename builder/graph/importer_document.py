"""The importer's walk over a traced module: each fx node becomes a layer node (or a value the
next rules read), with its edges, its weights under the built layer's names and its traced shapes.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import ValidationError
from torch import fx, nn

from .document import RESERVED_IDS, SCHEMA_VERSION, is_valid_node_id
from .importer_common import Op, Same, Unsupported, shape
from .importer_functions import METHODS, function_rule, index_op
from .importer_ops import MODULES
from .registry import LayerType, Shape, registry


@dataclass(frozen=True)
class _Ref:
    node_id: str
    port: str


@dataclass(frozen=True)
class _Attr:
    """A tensor attribute of the model; becomes a ``parameter`` node when a layer uses it."""

    node: fx.Node
    tensor: torch.Tensor


@dataclass(frozen=True)
class _Missing:
    """An element of a tuple result with no equivalent port (attention weights, LSTM state)."""

    what: str


class _Failed:
    """The value of a node that was already reported as unsupported."""


_FAILED = _Failed()
_NOT_A_TENSOR = object()  # sizes, shapes and other Python values used only to compute shapes


class DocumentWriter:
    """Walks a traced, shape-propagated module node by node: ``run`` maps each fx node to a layer
    (collecting every unsupported one in ``problems``), ``document`` returns the result."""

    def __init__(self, traced: fx.GraphModule, examples: tuple[torch.Tensor, ...]) -> None:
        self.traced = traced
        self.examples = examples
        self.modules = dict(traced.named_modules())
        self.values: dict[fx.Node, Any] = {}
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, str]] = []
        self.weights: dict[str, torch.Tensor] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.problems: list[dict[str, str]] = []
        self.traced_shapes: dict[tuple[str, str], Shape] = {}
        self.parameters: dict[fx.Node, _Ref] = {}
        self.ids: set[str] = set()

    def run(self) -> None:
        placeholders = 0
        for node in self.traced.graph.nodes:
            try:
                if node.op == "placeholder":
                    self.values[node] = self._input(node, self.examples[placeholders])
                    placeholders += 1
                else:
                    self.values[node] = getattr(self, f"_{node.op}")(node)
            except Unsupported as exc:
                self.problems.append({"node": node.name, "operation": _describe(node, self.modules),
                                      "reason": str(exc)})
                self.values[node] = _FAILED

    # ---- one handler per fx opcode ---------------------------------------------------
    def _input(self, node: fx.Node, example: torch.Tensor) -> _Ref:
        sample = list(shape(node)[1:])
        if example.dtype in (torch.int64, torch.int32) and len(sample) == 1:
            vocab = max([int(example.max()) + 1] + [
                m.num_embeddings for user in node.users
                if isinstance(m := self.modules.get(str(user.target)), nn.Embedding)
            ])
            layer, params = "token_input", {"seq_len": sample[0], "vocab_size": vocab}
        elif not example.is_floating_point():
            raise Unsupported(f"{example.dtype} input of shape {list(example.shape)}")
        elif len(sample) in (1, 2, 3, 4):
            keys = {1: ["features"], 2: ["seq_len", "features"], 3: ["channels", "height", "width"],
                    4: ["channels", "depth", "height", "width"]}[len(sample)]
            layer = {1: "vector_input", 2: "sequence_input", 3: "image_input", 4: "volume_input"}[len(sample)]
            params = dict(zip(keys, sample, strict=True))
        else:
            raise Unsupported(f"input of shape {list(example.shape)}")
        ref = self._add_node(node, Op(layer, params, []), None)
        self.inputs.append(ref.node_id)
        return ref

    def _get_attr(self, node: fx.Node) -> Any:
        value = operator.attrgetter(str(node.target))(self.traced)
        return _Attr(node, value.detach()) if isinstance(value, torch.Tensor) else _NOT_A_TENSOR

    def _call_module(self, node: fx.Node) -> Any:
        module = self.modules[str(node.target)]
        rule = MODULES.get(type(module))
        if rule is None:
            raise Unsupported("no layer type for this module")
        return self._apply(node, rule(node, module, self), module)

    def _call_function(self, node: fx.Node) -> Any:
        if node.target is operator.getitem:
            return self._getitem(node)
        if "tensor_meta" not in node.meta:
            return _NOT_A_TENSOR
        rule = function_rule(node.target)
        if rule is None:
            raise Unsupported("no layer type for this function")
        return self._apply(node, rule(node, None, self), None)

    def _call_method(self, node: fx.Node) -> Any:
        if "tensor_meta" not in node.meta:
            return _NOT_A_TENSOR
        rule = METHODS.get(str(node.target))
        if rule is None:
            raise Unsupported("no layer type for this tensor method")
        return self._apply(node, rule(node, None, self), None)

    def _output(self, node: fx.Node) -> None:
        result = node.args[0]
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        for item in results:
            ref = self._ref(item)
            if isinstance(ref, _Ref):
                self.outputs.append(ref.node_id if ref.port == "out" else f"{ref.node_id}:{ref.port}")

    def _getitem(self, node: fx.Node) -> Any:
        source, index = node.args[0], node.args[1]
        base = self.values.get(source, _NOT_A_TENSOR) if isinstance(source, fx.Node) else _NOT_A_TENSOR
        if isinstance(base, tuple) and isinstance(index, int):
            return base[index]
        if isinstance(base, (_Ref, _Attr)):
            return self._apply(node, index_op(node), None)
        return base

    # ---- building nodes ----------------------------------------------------------------
    def attribute(self, node: Any) -> torch.Tensor | None:
        """For rules: the tensor a get_attr node reads, consumed directly (no parameter node)."""
        value = self.values.get(node) if isinstance(node, fx.Node) else None
        return value.tensor if isinstance(value, _Attr) else None

    def _ref(self, value: Any) -> _Ref | None:
        """The graph output an fx argument stands for; ``None`` if it already failed."""
        value = self.values.get(value, _NOT_A_TENSOR) if isinstance(value, fx.Node) else _NOT_A_TENSOR
        if isinstance(value, _Attr):
            return self._parameter(value)
        if isinstance(value, _Ref):
            return value
        if isinstance(value, _Missing):
            raise Unsupported(f"uses {value.what}, which the layer does not output")
        if value is _FAILED:
            return None
        raise Unsupported("expected a tensor input")

    def _parameter(self, attr: _Attr) -> _Ref:
        if attr.node not in self.parameters:
            t = attr.tensor
            dims = list(t.shape[1:]) if t.dim() >= 2 and t.shape[0] == 1 else list(t.shape) or [1]
            op = Op("parameter", {"shape": dims}, [], weights={"weight": t.reshape(1, *dims)})
            self.parameters[attr.node] = self._add_node(attr.node, op, None)
        return self.parameters[attr.node]

    def _apply(self, node: fx.Node, result: Op | Same, module: nn.Module | None) -> Any:
        if isinstance(result, Same):
            return self.values.get(result.source, _NOT_A_TENSOR) if isinstance(result.source, fx.Node) else _NOT_A_TENSOR
        refs = [None if x is None else self._ref(x) for x in result.inputs]
        if any(r is None for x, r in zip(result.inputs, refs, strict=True) if x is not None):
            return _FAILED  # an input already failed and was reported
        ref = self._add_node(node, result, module, refs)
        if result.tuple_ports is None:
            return ref
        return tuple(_Ref(ref.node_id, p) if p else _Missing(f"output {i} of {node.name}")
                     for i, p in enumerate(result.tuple_ports))

    def _add_node(self, node: fx.Node, op: Op, module: nn.Module | None,
                  refs: Sequence[_Ref | None] = ()) -> _Ref:
        layer = registry.get(op.type)
        assert layer is not None, op.type
        try:
            parsed = layer.parse_params(op.params)
        except ValidationError as exc:
            raise Unsupported(f"{op.type} rejects params {op.params}: {exc.errors()[0]['msg']}") from exc
        ports = layer.input_ports(parsed)
        in_shapes = {port: self.traced_shapes[(r.node_id, r.port)] for port, r in zip(ports, refs, strict=False) if r}
        source = op.weights if op.weights is not None else (module.state_dict() if module is not None else {})
        weights = _map_weights(layer, parsed, in_shapes, source)
        label = op.label or (str(node.target) if node.op == "call_module" else None)
        node_id = self._new_id(op.label.replace(".", "_") if op.label else node.name)
        entry: dict[str, Any] = {"id": node_id, "type": op.type, "params": _without_defaults(layer, op.params)}
        if label is not None and label != node_id:
            entry["label"] = label
        self.nodes.append(entry)
        for port, r in zip(ports, refs, strict=False):
            if r is not None:
                self.edges.append({"source": r.node_id, "source_port": r.port, "target": node_id, "target_port": port})
        self.weights.update({f"{node_id}.{k}": v for k, v in weights.items()})
        out_ports = layer.output_ports(parsed)
        meta = node.meta.get("tensor_meta")
        metas = [meta] if op.tuple_ports is None else [m for m, p in zip(meta or (), op.tuple_ports, strict=False) if p]
        for port, m in zip(out_ports, metas, strict=False):
            if m is not None and hasattr(m, "shape"):
                self.traced_shapes[(node_id, port)] = tuple(m.shape)
        if op.type == "parameter":
            self.traced_shapes[(node_id, "out")] = (1, *op.params["shape"])
        return _Ref(node_id, out_ports[0])

    def _new_id(self, fx_name: str) -> str:
        base = fx_name if is_valid_node_id(fx_name) and fx_name not in RESERVED_IDS else f"n_{fx_name}"
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in base)
        node_id, i = base, 1
        while node_id in self.ids:
            node_id, i = f"{base}_{i}", i + 1
        self.ids.add(node_id)
        return node_id

    def document(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The document with nodes no output depends on removed (and their weights)."""
        feeds: dict[str, list[str]] = {}
        for e in self.edges:
            feeds.setdefault(e["target"], []).append(e["source"])
        keep = set(self.inputs)
        todo = [ref.partition(":")[0] for ref in self.outputs]
        while todo:
            node_id = todo.pop()
            if node_id not in keep:
                keep.add(node_id)
                todo.extend(feeds.get(node_id, []))
        doc = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "nodes": [n for n in self.nodes if n["id"] in keep],
            "edges": [e for e in self.edges if e["target"] in keep],
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }
        weights = {k: v for k, v in self.weights.items() if k.partition(".")[0] in keep}
        return doc, weights


def _without_defaults(layer: LayerType, params: dict[str, Any]) -> dict[str, Any]:
    """Only the params that differ from the layer's defaults: what a person would have set.
    Inputs keep every param, so the document states its input shapes outright."""
    if layer.is_input:
        return params
    fields = layer.Params.model_fields
    return {k: v for k, v in params.items() if k not in fields or fields[k].default != v}


def _map_weights(layer: LayerType, params: Any, in_shapes: dict[str, Shape],
                 source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Source tensors under the keys the built layer uses: by name when the names agree,
    else in order when every shape agrees (a wrapper module around the same parameters)."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in layer.build(params, in_shapes).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in source.items()}
    if got == expected:
        return {k: v.detach().clone() for k, v in source.items()}
    if list(got.values()) == list(expected.values()):
        return {k: v.detach().clone() for k, v in zip(expected, source.values(), strict=True)}
    raise Unsupported(f"its weights {got} don't match the {layer.id} layer's {expected}")


def _describe(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        cls = type(modules[str(node.target)])
        return f"{cls.__module__}.{cls.__qualname__} ({node.target})"
    if node.op == "call_function":
        target = node.target
        return f"{getattr(target, '__module__', '') or ''}.{getattr(target, '__name__', repr(target))}".lstrip(".")
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return f"{node.op} {node.target}"
