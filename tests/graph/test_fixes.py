"""One-click fixes: each kind the validator offers, applied with ``apply_fix`` as the canvas
applies it, then validated again: the problem is gone."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DocBuilder
from hypothesis import HealthCheck, event, given, settings
from test_property import graphs

from builder.graph import validate
from builder.graph.errors import Issue
from builder.graph.fixes import FixNotApplicable, apply_fix


def issue_on(doc: dict[str, Any], node_id: str, code: str) -> Issue:
    report = validate(doc)
    found = [i for i in [*report.errors, *report.warnings] if i.node_id == node_id and i.code == code]
    assert found, [i.to_dict() for i in [*report.errors, *report.warnings]]
    return found[0]


def fixed(doc: dict[str, Any], node_id: str, code: str, fix: dict[str, Any]) -> dict[str, Any]:
    """Checks the issue offers ``fix``, applies it and checks the graph is now valid."""
    issue = issue_on(doc, node_id, code)
    assert issue.fix == fix
    after = apply_fix(doc, issue)
    report = validate(after)
    assert report.ok, [e.to_dict() for e in report.errors]
    assert not [w for w in report.warnings if w.node_id == node_id and w.code == code]
    return after


def image(b: DocBuilder, channels: int = 1, height: int = 8, width: int = 8) -> str:
    return b.add("x", "image_input", {"channels": channels, "height": height, "width": width})


# ---- {"set": ...} ------------------------------------------------------------------------
def test_conv_too_small_gets_padding_same() -> None:
    b = DocBuilder()
    image(b, height=2)
    b.add("c", "conv2d", {"out_channels": 4, "kernel_size": 3}, "x")
    after = fixed(b.doc(), "c", "shape_mismatch", {"set": {"padding": "same"}})
    assert validate(after).nodes["c"].outputs["out"] == (1, 4, 2, 8)


def test_strided_conv_too_small_gets_the_least_padding() -> None:
    b = DocBuilder()
    image(b, height=2, width=2)
    b.add("c", "conv2d", {"out_channels": 4, "kernel_size": 5, "stride": 2}, "x")
    after = fixed(b.doc(), "c", "shape_mismatch", {"set": {"padding": 2}})
    assert validate(after).nodes["c"].outputs["out"] == (1, 4, 1, 1)


def test_pool_too_small_gets_a_kernel_that_fits() -> None:
    b = DocBuilder()
    image(b, height=3, width=8)
    b.add("p", "max_pool2d", {"kernel_size": 4}, "x")
    fixed(b.doc(), "p", "shape_mismatch", {"set": {"kernel_size": [3, 4]}})


def test_transposed_conv_padding_that_leaves_nothing_is_reset() -> None:
    b = DocBuilder()
    image(b, height=1, width=1)
    b.add("t", "conv_transpose2d", {"out_channels": 2, "kernel_size": 1, "padding": 1}, "x")
    fixed(b.doc(), "t", "shape_mismatch", {"set": {"padding": 0}})


def test_groups_that_do_not_divide_the_channels() -> None:
    b = DocBuilder()
    image(b, channels=6)
    b.add("c", "conv2d", {"out_channels": 8, "groups": 4, "padding": 1}, "x")
    b.add("g", "group_norm", {"num_groups": 3}, "c")
    doc = fixed_first(b.doc(), "c", {"set": {"groups": 2}})
    fixed(doc, "g", "shape_mismatch", {"set": {"num_groups": 1}})


def fixed_first(doc: dict[str, Any], node_id: str, fix: dict[str, Any]) -> dict[str, Any]:
    issue = issue_on(doc, node_id, "shape_mismatch")
    assert issue.fix == fix
    after = apply_fix(doc, issue)
    assert not [e for e in validate(after).errors if e.node_id == node_id]
    return after


def test_attention_heads_and_positional_encoding_sizes() -> None:
    b = DocBuilder()
    b.add("s", "sequence_input", {"seq_len": 40, "features": 6})
    b.add("pe", "positional_encoding", {"max_len": 16}, "s")
    b.add("enc", "transformer_encoder_layer", {"nhead": 4, "dim_feedforward": 8}, "pe")
    b.add("mha", "multi_head_attention", {"num_heads": 4})
    b.connect("enc", "mha", "query")
    doc = fixed_first(b.doc(), "pe", {"set": {"max_len": 40}})
    doc = fixed_first(doc, "enc", {"set": {"nhead": 2}})
    fixed(doc, "mha", "shape_mismatch", {"set": {"num_heads": 2}})


# ---- {"insert": ...} ---------------------------------------------------------------------
def test_add_of_mismatched_channels_gets_a_1x1_conv_on_the_odd_input() -> None:
    b = DocBuilder()
    image(b, channels=3)
    b.add("a", "conv2d", {"out_channels": 64, "padding": 1}, "x")
    b.add("b", "conv2d", {"out_channels": 32, "padding": 1}, "x")
    b.add("sum", "add", {}, "a", "b")
    issue = issue_on(b.doc(), "sum", "shape_mismatch")
    assert issue.port == "in1"
    after = fixed(
        b.doc(),
        "sum",
        "shape_mismatch",
        {"insert": "conv2d", "params": {"out_channels": 64, "kernel_size": 1}},
    )
    assert {"source": "b", "source_port": "out", "target": "conv2d_1", "target_port": "in"} in after["edges"]
    assert {"source": "conv2d_1", "source_port": "out", "target": "sum", "target_port": "in1"} in after[
        "edges"
    ]


def test_multiply_of_mismatched_features_gets_a_linear() -> None:
    b = DocBuilder()
    b.add("v", "vector_input", {"features": 10})
    b.add("a", "linear", {"out_features": 16}, "v")
    b.add("m", "multiply", {}, "a", "v")
    fixed(b.doc(), "m", "shape_mismatch", {"insert": "linear", "params": {"out_features": 16}})


def test_reshape_to_a_fixed_target_gets_a_linear_of_that_size() -> None:
    b = DocBuilder()
    b.add("v", "vector_input", {"features": 10})
    b.add("r", "reshape", {"shape": [4, 3, 3]}, "v")
    fixed(b.doc(), "r", "shape_mismatch", {"insert": "linear", "params": {"out_features": 36}})


def test_linear_on_a_feature_map_gets_a_flatten() -> None:
    b = DocBuilder()
    image(b)
    b.add("fc", "linear", {"out_features": 10}, "x")
    after = fixed(b.doc(), "fc", "suspicious_shape", {"insert": "flatten"})
    assert validate(after).nodes["fc"].inputs["in"] == (1, 64)


def test_too_many_dims_for_a_recurrent_layer_flatten_the_trailing_ones() -> None:
    b = DocBuilder()
    image(b, channels=2)
    b.add("rnn", "lstm", {"hidden_size": 4}, "x")
    fixed(b.doc(), "rnn", "shape_mismatch", {"insert": "flatten", "params": {"start_dim": 2}})


def test_too_few_dims_get_a_reshape_with_size_one_dims() -> None:
    b = DocBuilder()
    b.add("v", "vector_input", {"features": 12})
    b.add("c", "conv1d", {"out_channels": 4, "padding": 1}, "v")
    after = fixed(b.doc(), "c", "shape_mismatch", {"insert": "reshape", "params": {"shape": [1, 12]}})
    assert validate(after).nodes["c"].outputs["out"] == (1, 4, 12)


def test_token_ids_into_a_float_layer_get_an_embedding_of_the_vocabulary() -> None:
    b = DocBuilder()
    b.add("t", "token_input", {"seq_len": 5, "vocab_size": 50})
    b.add("fc", "linear", {"out_features": 3}, "t")
    fixed(b.doc(), "fc", "dtype_mismatch", {"insert": "embedding", "params": {"num_embeddings": 50}})


def test_two_edges_into_one_port_get_an_add() -> None:
    b = DocBuilder()
    b.add("v", "vector_input", {"features": 4})
    b.add("a", "linear", {"out_features": 4}, "v")
    b.add("fc", "linear", {"out_features": 2}, "a")
    b.connect("v", "fc", "in")
    after = fixed(b.doc(), "fc", "port_already_connected", {"insert": "add"})
    into_add = sorted((e["source"], e["target_port"]) for e in after["edges"] if e["target"] == "add_1")
    assert into_add == [("a", "in0"), ("v", "in1")]


# ---- {"type": ...} -----------------------------------------------------------------------
def test_unknown_type_gets_the_closest_known_one() -> None:
    b = DocBuilder()
    image(b)
    b.add("c", "conv2", {"out_channels": 4, "nonsense": 1}, "x")
    after = fixed(b.doc(), "c", "unknown_type", {"type": "conv2d"})
    assert after["nodes"][1]["params"] == {"out_channels": 4}


# ---- only fixes that work are offered ---------------------------------------------------
def test_a_mismatch_with_no_single_layer_remedy_offers_no_fix() -> None:
    b = DocBuilder()
    image(b, channels=3)
    b.add("a", "conv2d", {"out_channels": 8, "padding": 1}, "x")
    b.add("b", "conv2d", {"out_channels": 16, "stride": 2, "padding": 1}, "x")
    b.add("sum", "add", {}, "a", "b")
    assert issue_on(b.doc(), "sum", "shape_mismatch").fix is None


def test_reflect_padding_too_large_is_offered_zeros_or_same() -> None:
    b = DocBuilder()
    image(b, height=2, width=2)
    b.add("c", "conv2d", {"out_channels": 2, "kernel_size": 5, "padding": 2, "padding_mode": "reflect"}, "x")
    issue = issue_on(b.doc(), "c", "shape_mismatch")
    assert issue.fix is not None
    assert validate(apply_fix(b.doc(), issue)).ok


def test_apply_fix_refuses_a_missing_node_or_unknown_fix() -> None:
    doc = DocBuilder().doc()
    with pytest.raises(FixNotApplicable):
        apply_fix(doc, {"node_id": "nope", "fix": {"set": {}}})
    b = DocBuilder()
    image(b)
    with pytest.raises(FixNotApplicable):
        apply_fix(b.doc(), {"node_id": "x", "fix": {"rename": "y"}})


# ---- every fix offered on random graphs works ------------------------------------------
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_every_offered_fix_removes_its_problem(doc: dict[str, Any]) -> None:
    report = validate(doc)
    for issue in [*report.errors, *report.warnings]:
        if issue.fix is None:
            continue
        event(next(iter(issue.fix)))
        after = apply_fix(doc, issue)
        again = validate(after)
        same = [
            i
            for i in [*again.errors, *again.warnings]
            if (i.node_id, i.code, i.port) == (issue.node_id, issue.code, issue.port)
        ]
        assert not same, (issue.to_dict(), [i.to_dict() for i in same])
        # A node inserted into a cycle the graph already had is part of it, as its neighbours are.
        added = {n["id"] for n in after["nodes"]} - {n["id"] for n in doc["nodes"]}
        assert not [e for e in again.errors if e.node_id in added and e.code != "cycle"], (issue.to_dict(), again.errors)
