"""Property tests: random graphs, valid and not, where validate and compile_graph must agree.

validate never raises nor reports an internal error; when it says ok, compile_graph builds the
graph and a real forward pass gives, at every node, the shape the report inferred; when it says
not ok, compile_graph raises GraphError.
"""
from __future__ import annotations

from typing import Any

import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch.fx.passes.shape_prop import ShapeProp

from builder.graph import GraphError, compile_graph, validate
from builder.graph.compiler import example_inputs

BATCH = 2
small = st.integers(1, 4)


def _params(type_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly sensible params, sometimes out of range or inconsistent with the input."""
    kernel = st.integers(1, 4)
    p: dict[str, st.SearchStrategy[Any]] = {
        "conv2d": st.fixed_dictionaries({"out_channels": st.integers(1, 6) | st.just(0), "kernel_size": kernel,
                                         "stride": st.integers(1, 2), "padding": st.integers(0, 2) | st.just("same"),
                                         "dilation": st.integers(1, 2), "groups": st.sampled_from([1, 1, 1, 1, 2])}),
        "conv_transpose2d": st.fixed_dictionaries({"out_channels": small, "kernel_size": kernel,
                                                   "stride": st.integers(1, 2), "padding": st.integers(0, 1)}),
        "max_pool2d": st.fixed_dictionaries({"kernel_size": kernel, "stride": st.integers(1, 3),
                                             "padding": st.integers(0, 1), "ceil_mode": st.booleans()}),
        "avg_pool2d": st.fixed_dictionaries({"kernel_size": kernel, "padding": st.integers(0, 1),
                                             "ceil_mode": st.booleans(), "count_include_pad": st.booleans()}),
        "adaptive_avg_pool2d": st.fixed_dictionaries({"output_size": small}),
        "upsample": st.fixed_dictionaries({"scale_factor": st.sampled_from([1.0, 1.5, 2.0]),
                                           "mode": st.sampled_from(["nearest", "bilinear", "linear"])}),
        "linear": st.fixed_dictionaries({"out_features": st.integers(1, 6), "bias": st.booleans()}),
        "concat": st.fixed_dictionaries({"num_inputs": st.integers(2, 3), "dim": st.just(1) | st.integers(-2, 3)}),
        "add": st.fixed_dictionaries({"num_inputs": st.integers(2, 3)}),
        "multiply": st.fixed_dictionaries({"num_inputs": st.just(2)}),
        "flatten": st.fixed_dictionaries({"start_dim": st.integers(1, 2)}),
        "reshape": st.fixed_dictionaries({"shape": st.lists(st.integers(1, 6) | st.just(-1), min_size=1, max_size=3)}),
        "permute": st.fixed_dictionaries({"dims": st.permutations([0, 1, 2, 3])}),
        "transpose": st.fixed_dictionaries({"dim0": st.integers(1, 3), "dim1": st.integers(1, 3)}),
        "mean": st.fixed_dictionaries({"dims": st.lists(st.integers(1, 3), min_size=1, max_size=2, unique=True),
                                       "keepdim": st.booleans()}),
        "group_norm": st.fixed_dictionaries({"num_groups": st.integers(1, 3)}),
        "layer_norm": st.fixed_dictionaries({"normalized_dims": st.integers(1, 3)}),
        "channel_shuffle": st.fixed_dictionaries({"groups": st.integers(1, 3)}),
        "softmax": st.fixed_dictionaries({"dim": st.integers(-1, 3)}),
        "dropout": st.fixed_dictionaries({"p": st.sampled_from([0.0, 0.5])}),
    }
    return p.get(type_id, st.just({}))


LAYERS = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "upsample",
          "batch_norm2d", "relu", "gelu", "sigmoid", "dropout", "linear", "concat", "add", "multiply", "flatten",
          "reshape", "permute", "transpose", "mean", "group_norm", "layer_norm", "channel_shuffle", "softmax",
          "identity", "batch_norm1d", "prelu"]


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 4)):
        first = {"id": "x", "type": "image_input",
                 "params": {"channels": draw(small), "height": draw(st.integers(1, 10)), "width": draw(st.integers(1, 10))}}
    else:
        first = {"id": "x", "type": "vector_input", "params": {"features": draw(st.integers(1, 8))}}
    nodes, edges = [first], []
    for i in range(1, draw(st.integers(2, 7))):
        type_id = draw(st.sampled_from(LAYERS))
        params = draw(_params(type_id))
        node_id = f"n{i}"
        nodes.append({"id": node_id, "type": type_id, "params": params})
        ports = [f"in{k}" for k in range(params["num_inputs"])] if "num_inputs" in params else ["in"]
        for port in ports:
            # Mostly a chain (the previous node), sometimes a skip connection from further back.
            back = draw(st.just(1) | st.integers(1, i))
            source = nodes[i - back]["id"]
            edges.append({"source": source, "target": node_id, "target_port": port})
    doc = {"schema_version": 1, "nodes": nodes, "edges": edges}
    # Now and then, break the structure on purpose.
    damage = draw(st.sampled_from(["none"] * 12 + ["drop_edge", "cycle", "dangling", "unknown_type", "bad_param"]))
    if damage == "drop_edge" and edges:
        edges.pop(draw(st.integers(0, len(edges) - 1)))
    elif damage == "cycle" and len(nodes) > 2:
        edges.append({"source": nodes[-1]["id"], "target": nodes[1]["id"], "target_port": "in"})
    elif damage == "dangling":
        edges.append({"source": "ghost", "target": nodes[-1]["id"], "target_port": "in"})
    elif damage == "unknown_type":
        nodes[-1]["type"] = "conv9d"
    elif damage == "bad_param":
        nodes[-1]["params"]["out_channels"] = "many"
    return doc


def _check_agreement(doc: dict[str, Any]) -> None:
    report = validate(doc, batch_size=BATCH)
    internal = [e for e in report.errors if e.code in ("internal_error", "layer_error")]
    assert not internal, internal
    event("valid" if report.ok else "invalid")
    if not report.ok:
        try:
            compile_graph(doc, batch_size=BATCH)
        except GraphError:
            return
        raise AssertionError("compile_graph accepted a graph that validate rejected")
    module = compile_graph(doc, batch_size=BATCH).eval()
    with torch.no_grad():
        ShapeProp(module).propagate(*example_inputs(doc, batch_size=BATCH))
    for node in module.graph.nodes:
        if node.op != "call_module":
            continue
        inferred = report.nodes[node.meta["node_id"]].outputs
        assert tuple(node.meta["tensor_meta"].shape) == next(iter(inferred.values())), (node.name, doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_validate_and_compile_agree(doc: dict[str, Any]) -> None:
    _check_agreement(doc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    json_values,
    st.fixed_dictionaries({"nodes": st.lists(st.dictionaries(st.sampled_from(["id", "type", "params", "position"]),
                                                             json_values), max_size=3),
                           "edges": json_values}),
))
def test_junk_documents_never_crash(doc: Any) -> None:
    report = validate(doc)
    assert not report.ok or doc  # an empty document can't be ok
    assert not [e for e in report.errors if e.code == "internal_error"]
    if not report.ok:
        try:
            compile_graph(doc)
        except GraphError:
            return
        raise AssertionError("compile_graph accepted a graph that validate rejected")
