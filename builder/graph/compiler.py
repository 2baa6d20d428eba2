"""Compile a graph document to a ``torch.fx.GraphModule``.

The fx graph is written by hand, not traced: one placeholder per input node (named after the
node id, in the document's input order), one ``call_module`` per layer whose submodule is
registered under the node id (so ``state_dict`` keys read ``"<node id>.<param>"`` and map back
to canvas nodes), a ``getitem`` per extra output port, and one output returning a tensor or a
tuple. ``GraphModule`` turns that into a plain Python ``forward``, so the result runs at
hand-written speed, prints as readable code, and scripts / traces / exports like any module.
"""
from __future__ import annotations

import keyword
import operator
from typing import Any

import torch
from torch import fx, nn

from .document import RESERVED_IDS
from .errors import GraphError
from .plan import BuildPlan, PortRef, make_plan
from .validate import validate

# Layers whose backward doesn't need their own output, so a ReLU may overwrite it (as
# torchvision's inplace=True ReLUs do), saving an allocation per activation.
_INPLACE_SAFE_PRODUCERS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "batch_norm1d", "batch_norm2d", "batch_norm3d", "group_norm", "layer_norm", "linear", "add", "concat",
})
_INPLACE_ACTIVATIONS = (nn.ReLU, nn.ReLU6)


def compile_graph(graph: Any, *, batch_size: int = 1) -> fx.GraphModule:
    """Validate ``graph`` (a document dict or ``GraphDocument``) and compile it.

    Returns a ``GraphModule`` whose ``forward`` takes the input nodes' tensors in the document's
    ``inputs`` order and returns one tensor, or a tuple when there are several outputs. Its
    ``input_names`` and ``output_names`` (``"id:port"``) attributes list them in that order.
    Raises ``GraphError`` carrying the validation report when the graph is invalid.
    """
    report = validate(graph, batch_size=batch_size)
    if not report.ok:
        raise GraphError(report)
    return build_graph_module(make_plan(report))


def build_graph_module(plan: BuildPlan) -> fx.GraphModule:
    """Emit the fx graph for a build plan and wrap it in a ``GraphModule``."""
    root = nn.Module()
    graph = fx.Graph()
    values: dict[PortRef, fx.Node] = {}
    input_set = set(plan.inputs)
    by_id = {p.id: p for p in plan.nodes}

    # Placeholders first: their creation order is forward()'s argument order.
    for node_id in plan.inputs:
        planned = by_id[node_id]
        placeholder = graph.placeholder(node_id)
        placeholder.meta["node_id"] = node_id
        placeholder.meta["shape"] = planned.out_shapes[planned.out_ports[0]]
        placeholder.meta["layer_type"] = planned.layer.id
        for port in planned.out_ports:
            values[(node_id, port)] = placeholder

    for planned in plan.nodes:
        if planned.id in input_set:
            continue
        _check_attribute_name(planned.id)
        root.add_module(planned.id, planned.layer.build(planned.params, planned.in_shapes))
        args = [None if src is None else values[src] for src in planned.sources.values()]
        while args and args[-1] is None:  # trailing optional ports take their defaults
            args.pop()
        call = graph.call_module(planned.id, tuple(args))
        call.meta["node_id"] = planned.id
        call.meta["layer_type"] = planned.layer.id
        if len(planned.out_ports) == 1:
            values[(planned.id, planned.out_ports[0])] = call
        else:
            for i, port in enumerate(planned.out_ports):
                item = graph.call_function(operator.getitem, (call, i))
                item.meta["node_id"] = planned.id
                values[(planned.id, port)] = item

    results = [values[ref] for ref in plan.outputs]
    graph.output(results[0] if len(results) == 1 else tuple(results))
    graph.lint()
    _use_inplace_activations(graph, root)
    module = fx.GraphModule(root, graph, class_name="CompiledGraph")
    # Plain attributes (nn.Module's __setattr__ is typed for tensors and modules only).
    setattr(module, "input_names", list(plan.inputs))  # noqa: B010
    setattr(module, "output_names", [f"{n}:{p}" for n, p in plan.outputs])  # noqa: B010
    return module


def _check_attribute_name(node_id: str) -> None:
    if keyword.iskeyword(node_id) or node_id in RESERVED_IDS or not node_id.isidentifier():
        raise ValueError(f"node id {node_id!r} cannot be a module attribute name")


def _use_inplace_activations(graph: fx.Graph, root: nn.Module) -> None:
    """Let a ReLU overwrite its input when nothing else reads it and the producing layer's
    backward doesn't need it. State dicts and results are unchanged."""
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(module := root.get_submodule(node.target), _INPLACE_ACTIVATIONS):
            continue
        (source,) = node.args
        if (
            isinstance(source, fx.Node)
            and source.op == "call_module"
            and source.meta.get("layer_type") in _INPLACE_SAFE_PRODUCERS
            and len(source.users) == 1
        ):
            module.inplace = True


def example_inputs(graph: Any, *, batch_size: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random tensors for ``forward`` of the compiled graph, in its input order: floats from a
    normal distribution, token ids uniform over the input's ``vocab_size``. For smoke tests,
    benchmarks and ONNX export. Raises ``GraphError`` if the graph is invalid."""
    report = validate(graph, batch_size=batch_size)
    if not report.ok:
        raise GraphError(report)
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for node_id in report.inputs:
        info = report.nodes[node_id]
        port, shape = next(iter(info.outputs.items()))
        if info.dtypes.get(port) == "int64":
            vocab = int(getattr(report.parsed_params[node_id], "vocab_size", 2))
            tensors.append(torch.randint(0, vocab, shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tuple(tensors)
