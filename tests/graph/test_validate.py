"""validate() errors: one behaviour per test, each stable code, messages naming nodes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DocBuilder, codes, only_error

from builder.graph import GraphError, registry, validate
from builder.graph.fixes import apply_fix


# ---- document-level errors -------------------------------------------------------------
@pytest.mark.parametrize(
    "junk", [None, 3, "not json", "[1, 2]", [], {"nodes": 5}, {"nodes": [1, "a"], "edges": {}}]
)
def test_unreadable_documents_are_invalid_document(junk: Any) -> None:
    report = validate(junk)
    assert not report.ok and "invalid_document" in codes(report)


def test_unsupported_schema_version(lenet_doc: dict[str, Any]) -> None:
    error = only_error(validate({**lenet_doc, "schema_version": 2}))
    assert error.code == "invalid_document" and "schema_version" in error.message


def test_empty_graph_has_no_inputs_and_no_outputs() -> None:
    assert codes(validate({"nodes": [], "edges": []})) == ["no_inputs", "no_outputs"]


@pytest.mark.parametrize("bad_id", ["my-conv", "1conv", "class", "a b"])
def test_node_ids_must_be_python_identifiers(lenet_doc: dict[str, Any], bad_id: str) -> None:
    lenet_doc["nodes"].append({"id": bad_id, "type": "relu"})
    lenet_doc["edges"].append({"source": "fc2", "target": bad_id})
    error = only_error(validate(lenet_doc))
    assert (error.code, error.node_id) == ("invalid_id", bad_id)


@pytest.mark.parametrize("reserved", ["forward", "training", "graph", "code", "eval", "to", "type", "output_names"])
def test_ids_that_clash_with_the_compiled_module_are_reserved(lenet_doc: dict[str, Any], reserved: str) -> None:
    lenet_doc["nodes"].append({"id": reserved, "type": "relu"})
    lenet_doc["edges"].append({"source": "fc2", "target": reserved})
    error = only_error(validate(lenet_doc))
    assert (error.code, error.node_id) == ("reserved_id", reserved)
    assert f"'{reserved}' is reserved" in error.message


def test_input_nodes_may_take_reserved_ids(draft: DocBuilder) -> None:
    # Inputs become forward() arguments, not attributes of the compiled module.
    draft.add("training", "vector_input", {"features": 4})
    draft.add("fc", "linear", {"out_features": 2}, "training")
    assert validate(draft.doc()).ok


def test_duplicate_ids(lenet_doc: dict[str, Any]) -> None:
    lenet_doc["nodes"].append({"id": "c1", "type": "relu"})
    error = only_error(validate(lenet_doc))
    assert (error.code, error.node_id) == ("duplicate_id", "c1")


def test_unknown_type_suggests_the_closest(draft: DocBuilder) -> None:
    draft.add("x", "vector_input")
    draft.add("fc", "lineer", {}, "x")
    draft.add("act", "relu", {}, "fc")
    error = only_error(validate(draft.doc()))
    assert (error.code, error.node_id, error.fix) == ("unknown_type", "fc", {"type": "linear"})
    assert "did you mean linear" in error.message


# ---- params ----------------------------------------------------------------------------
def test_invalid_params_name_the_node_and_each_field(draft: DocBuilder) -> None:
    draft.add("x", "image_input")
    draft.add(
        "c1", "conv2d", {"out_channels": 0, "kernel_size": [3, 3, 3], "stride": "two", "bogus": 1}, "x"
    )
    report = validate(draft.doc())
    by_param = {e.param: e.message for e in report.errors}
    assert set(codes(report)) == {"invalid_param"}
    assert by_param["out_channels"] == "conv2d 'c1': out_channels must be >= 1"
    assert (
        by_param["kernel_size"]
        == "conv2d 'c1': kernel_size needs one int or a list of 2 ints (one per spatial axis)"
    )
    assert "stride" in by_param and by_param["bogus"] == "conv2d 'c1': bogus is not a parameter of conv2d"


def test_cross_field_param_rules(draft: DocBuilder) -> None:
    draft.add("x", "image_input")
    draft.add("c1", "conv2d", {"out_channels": 10, "groups": 4}, "x")
    draft.add("c2", "conv2d", {"padding": "same", "stride": 2}, "x")
    messages = [e.message for e in validate(draft.doc()).errors]
    assert messages == [
        "conv2d 'c1': out_channels (10) must be divisible by groups (4)",
        "conv2d 'c2': padding='same' needs stride 1",
    ]


def test_dim_out_of_range_is_invalid_param(draft: DocBuilder) -> None:
    draft.add("x", "vector_input")
    draft.add("s", "softmax", {"dim": 2}, "x")
    error = only_error(validate(draft.doc()))
    assert error.code == "invalid_param" and "dim=2 is out of range" in error.message


# ---- edges -----------------------------------------------------------------------------
def test_missing_input(draft: DocBuilder) -> None:
    draft.add("x", "image_input")
    draft.add("c1", "conv2d", {})
    draft.add("r", "relu", {}, "x")
    report = validate(draft.doc(outputs=["r", "c1"]))
    error = only_error(report)
    assert (error.code, error.node_id, error.port) == ("missing_input", "c1", "in")
    assert error.message == "conv2d 'c1' has nothing connected to its input"


def test_dangling_edges_unknown_node_and_port(lenet_doc: dict[str, Any]) -> None:
    lenet_doc["edges"] += [
        {"source": "ghost", "target": "fc2"},
        {"source": "fc1", "source_port": "last", "target": "fc2"},
        {"source": "fc1", "target": "fc2", "target_port": "in7"},
    ]
    report = validate(lenet_doc)
    assert codes(report) == ["dangling_edge"] * 3
    assert "'ghost' that doesn't exist" in report.errors[0].message
    assert report.errors[1].message == "linear 'fc1' has no output 'last' (it has out)"
    assert report.errors[2].port == "in7"


def test_edge_into_an_input_layer(lenet_doc: dict[str, Any]) -> None:
    lenet_doc["edges"].append({"source": "fc2", "target": "x"})
    error = only_error(validate(lenet_doc))
    assert error.code == "dangling_edge" and "takes no inputs" in error.message


def test_duplicate_edge_and_second_edge_into_a_port(lenet_doc: dict[str, Any]) -> None:
    lenet_doc["edges"] += [{"source": "fc1", "target": "fc2"}, {"source": "flat", "target": "fc2"}]
    report = validate(lenet_doc)
    assert codes(report) == ["duplicate_edge", "port_already_connected"]
    # fc1 gives 120 features and flat 400: an inserted add could not join them, so none is offered.
    assert report.errors[1].fix is None and report.errors[1].node_id == "fc2"
    assert "with an add or concat first" in report.errors[1].message


def test_a_port_fed_twice_is_offered_an_add_only_where_the_two_tensors_add(draft: DocBuilder) -> None:
    draft.add("x", "vector_input", {"features": 4})
    draft.add("a", "linear", {"out_features": 3}, "x")
    draft.add("b", "linear", {"out_features": 3}, "x")
    draft.add("c", "linear", {"out_features": 2}, "a")
    draft.connect("b", "c", "in")
    draft.add("d", "linear", {"out_features": 2}, "a")
    draft.connect("x", "d", "in")  # 3 features and 4: no add joins them
    report = validate(draft.doc(outputs=["c", "d"]))
    fixes = {e.node_id: e.fix for e in report.errors if e.code == "port_already_connected"}
    assert fixes == {"c": {"insert": "add"}, "d": None}
    fixed = validate(apply_fix(draft.doc(outputs=["c", "d"]), next(e for e in report.errors if e.node_id == "c")))
    assert [e.code for e in fixed.errors] == ["port_already_connected"]  # only d's is left


def test_cycle_marks_each_node_on_it_and_nothing_downstream(draft: DocBuilder) -> None:
    draft.add("x", "vector_input", {"features": 4})
    draft.add("a", "add", {}, "x", "c")
    draft.add("b", "linear", {"out_features": 4}, "a")
    draft.add("c", "relu", {}, "b")
    draft.add("d", "linear", {"out_features": 2}, "c")
    report = validate(draft.doc(outputs=["d"]))
    assert codes(report) == ["cycle"] * 3
    assert {e.node_id for e in report.errors} == {"a", "b", "c"}
    assert "(a -> b -> c -> a)" in report.errors[0].message
    assert report.topological_order == ["x"] and "d" not in report.nodes


def test_self_loop_is_a_cycle(draft: DocBuilder) -> None:
    draft.add("x", "vector_input")
    draft.add("a", "add", {}, "x", "a")
    assert codes(validate(draft.doc(outputs=["a"]))) == ["cycle"]


# ---- inputs and outputs ----------------------------------------------------------------
def test_explicit_inputs_order_and_unused_warnings(draft: DocBuilder) -> None:
    draft.add("a", "vector_input", {"features": 3})
    draft.add("b", "vector_input", {"features": 3})
    draft.add("spare", "vector_input")
    draft.add("s", "add", {}, "a", "b")
    draft.add("side", "relu", {}, "a")
    report = validate(draft.doc(inputs=["b", "a", "spare"], outputs=["s"]))
    assert report.ok and report.inputs == ["b", "a", "spare"]
    assert [(w.code, w.node_id) for w in report.warnings] == [
        ("unused_input", "spare"),
        ("unused_node", "side"),
    ]


def test_bad_input_and_output_references(draft: DocBuilder) -> None:
    draft.add("a", "vector_input")
    draft.add("fc", "linear", {}, "a")
    report = validate(draft.doc(inputs=["fc", "nope"], outputs=["fc:last", "ghost", "fc"]))
    messages = [e.message for e in report.errors]
    assert sorted(codes(report)) == ["invalid_document"] * 5 + ["no_inputs"]
    assert "inputs lists linear 'fc', which is not an input layer" in messages
    assert "outputs lists 'fc:last', but linear 'fc' has no output 'last' (it has out)" in messages


def test_connected_input_missing_from_inputs(draft: DocBuilder) -> None:
    draft.add("a", "vector_input")
    draft.add("b", "vector_input")
    draft.add("s", "add", {}, "a", "b")
    error = only_error(validate(draft.doc(inputs=["a"])))
    assert error.node_id == "b" and "not listed in inputs" in error.message


def test_no_inputs(draft: DocBuilder) -> None:
    draft.add("p", "parameter", {"shape": [3]})
    draft.add("r", "relu", {}, "p")
    assert codes(validate(draft.doc())) == ["no_inputs"]


def test_self_attention_leaves_key_and_value_optional(draft: DocBuilder) -> None:
    draft.add("x", "sequence_input", {"seq_len": 6, "features": 8})
    draft.add("enc", "transformer_encoder_layer", {"nhead": 2, "dim_feedforward": 32}, "x")
    draft.add("att", "multi_head_attention", {"num_heads": 3})
    draft.connect("enc", "att", "query")
    error = only_error(validate(draft.doc()))
    assert error.message == (
        "multi_head_attention 'att' with num_heads=3 needs an embedding size divisible by 3 but 'enc' gives [N,6,8]"
    )


# ---- errors as an exception and robustness ----------------------------------------------
def test_graph_error_summarises_the_first_errors(draft: DocBuilder) -> None:
    draft.add("x", "vector_input")
    for i in range(5):
        draft.add(f"r{i}", "relu")
    report = validate(draft.doc())
    error = GraphError(report)
    assert error.report is report
    assert str(error).startswith("relu 'r0' has nothing connected to its input; relu 'r1'")
    assert str(error).endswith(f"(and {len(report.errors) - 3} more)")


def test_a_broken_plugin_layer_becomes_one_error(draft: DocBuilder) -> None:
    from builder.graph import LayerType

    class Broken(LayerType):
        id = "broken_for_test"
        category = "test"
        doc = "raises"

        def infer(self, params: Any, in_shapes: Any) -> dict[str, tuple[int, ...]]:
            raise ZeroDivisionError("oops")

    registry.register(Broken, source="test")
    try:
        draft.add("x", "vector_input")
        draft.add("b", "broken_for_test", {}, "x")
        error = only_error(validate(draft.doc()))
        assert (error.code, error.node_id) == ("layer_error", "b")
    finally:
        registry.unregister("broken_for_test")


# ---- layers with a param-dependent number of outputs ------------------------------------
def test_chunk_outputs_follow_its_chunks_param(draft: DocBuilder) -> None:
    draft.add("x", "image_input", {"channels": 6, "height": 4, "width": 4})
    draft.add("split", "chunk", {"chunks": 3}, "x")
    draft.add("cat", "concat", {}, "split:out2", "split:out0")
    report = validate(draft.doc(outputs=["cat", "split:out1"]), batch_size=2)
    assert report.ok
    assert report.nodes["split"].outputs == {"out0": (2, 2, 4, 4), "out1": (2, 2, 4, 4), "out2": (2, 2, 4, 4)}
    assert report.outputs == ["cat:out", "split:out1"]


def test_chunk_has_no_port_beyond_its_chunks(draft: DocBuilder) -> None:
    draft.add("x", "image_input", {"channels": 6, "height": 4, "width": 4})
    draft.add("split", "chunk", {}, "x")
    draft.add("act", "relu", {}, "split:out2")
    report = validate(draft.doc())
    assert codes(report) == ["dangling_edge", "missing_input"]
    error = report.errors[0]
    assert (error.code, error.node_id, error.port) == ("dangling_edge", "split", "out2")
    assert "(it has out0, out1)" in error.message


def test_chunk_that_torch_would_split_fewer_ways(draft: DocBuilder) -> None:
    draft.add("x", "vector_input", {"features": 5})
    draft.add("split", "chunk", {"chunks": 4}, "x")  # torch.chunk gives [2, 2, 1]: three pieces
    error = only_error(validate(draft.doc()))
    assert (error.code, error.node_id) == ("shape_mismatch", "split")
    assert "gives 3 piece(s)" in error.message


def test_class_token_concat_needs_expand_batch_beyond_batch_one(draft: DocBuilder) -> None:
    draft.add("seq", "sequence_input", {"seq_len": 4, "features": 8})
    draft.add("token", "parameter", {"shape": [1, 8]})
    draft.add("cat", "concat", {}, "token", "seq")
    assert validate(draft.doc(), batch_size=1).ok
    error = only_error(validate(draft.doc(), batch_size=2))
    assert (error.code, error.node_id) == ("shape_mismatch", "cat")
    draft = DocBuilder()
    draft.add("seq", "sequence_input", {"seq_len": 4, "features": 8})
    draft.add("token", "parameter", {"shape": [1, 8]})
    draft.add("tokens", "expand_batch", {}, "token")
    draft.connect("seq", "tokens", "like")
    draft.add("cat", "concat", {}, "tokens", "seq")
    draft.add("first", "select", {"index": 0}, "cat")
    report = validate(draft.doc(), batch_size=2)
    assert report.ok and report.nodes["first"].outputs == {"out": (2, 8)}


def test_expand_batch_of_a_batch_tensor_changes_nothing(draft: DocBuilder) -> None:
    draft.add("a", "vector_input", {"features": 3})
    draft.add("b", "sequence_input", {"seq_len": 2, "features": 5})
    draft.add("wide", "expand_batch", {}, "a")
    draft.connect("b", "wide", "like")
    report = validate(draft.doc(), batch_size=2)
    assert report.ok and report.nodes["wide"].outputs == {"out": (2, 3)}


def test_select_index_out_of_range(draft: DocBuilder) -> None:
    draft.add("seq", "sequence_input", {"seq_len": 4, "features": 8})
    draft.add("last", "select", {"index": 4}, "seq")
    error = only_error(validate(draft.doc()))
    assert (error.code, error.node_id) == ("invalid_param", "last")


def test_registry_describes_variadic_outputs() -> None:
    chunk = type(registry.get("chunk")).describe()
    assert chunk["variadic_outputs"] == {"param": "chunks", "prefix": "out"} and chunk["outputs"] == []
    assert type(registry.get("linear")).describe()["variadic_outputs"] is None
