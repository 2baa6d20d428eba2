"""validate() shapes, params, FLOPs, totals, memory and limits; half-built graphs."""

from __future__ import annotations

import json
from typing import Any

from conftest import DocBuilder, codes, only_error

from builder.graph import Limits, validate


# ---- valid graphs ----------------------------------------------------------------------
def test_lenet_is_valid_with_shapes_params_and_flops(lenet_doc: dict[str, Any]) -> None:
    report = validate(lenet_doc)
    assert report.ok and not report.errors and not report.warnings
    assert report.nodes["p2"].outputs == {"out": (1, 16, 5, 5)}
    assert report.nodes["fc2"].outputs == {"out": (1, 10)}
    assert report.params == 156 + 2416 + 48120 + 1210
    assert report.nodes["fc1"].flops == 2 * 400 * 120 + 120
    assert report.inputs == ["x"] and report.outputs == ["fc2:out"]
    assert report.topological_order[0] == "x" and report.topological_order[-1] == "fc2"


def test_resnet50_sized_graph_validates(resnet50_doc: dict[str, Any]) -> None:
    report = validate(resnet50_doc)
    assert report.ok, report.errors[:3]
    assert len(report.topological_order) == len(resnet50_doc["nodes"]) > 170
    assert report.params == 25_557_032  # torchvision.models.resnet50()
    assert report.nodes["fc"].outputs["out"] == (1, 1000)
    assert 8.0e9 < report.flops < 8.5e9  # 4.1 GMACs


def test_report_to_dict_is_json(lenet_doc: dict[str, Any]) -> None:
    data = json.loads(json.dumps(validate(lenet_doc, batch_size=4).to_dict()))
    assert set(data) == {
        "ok",
        "errors",
        "warnings",
        "nodes",
        "edges",
        "totals",
        "topological_order",
        "inputs",
        "outputs",
    }
    assert data["nodes"]["fc2"]["outputs"] == {"out": [4, 10]}
    assert data["edges"][0] == {
        "source": "x",
        "source_port": "out",
        "target": "c1",
        "target_port": "in",
        "shape": [4, 1, 28, 28],
    }
    assert set(data["totals"]) == {"params", "flops", "batch_size", "memory"}
    assert set(data["totals"]["memory"]["fp32"]) == {
        "weights",
        "weight_copies",
        "gradients",
        "optimizer",
        "activations",
        "backward_workspace",
        "total",
    }


def test_accepts_json_text_and_graph_document(lenet_doc: dict[str, Any]) -> None:
    from builder.graph import parse_document

    assert validate(json.dumps(lenet_doc)).ok
    assert validate(parse_document(lenet_doc)).ok


# ---- shapes ----------------------------------------------------------------------------
def test_shape_mismatch_names_node_and_upstream_with_a_fix(lenet_doc: dict[str, Any]) -> None:
    lenet_doc["nodes"].append({"id": "c3", "type": "conv2d", "params": {}})
    lenet_doc["edges"].append({"source": "fc1", "target": "c3"})
    lenet_doc["outputs"] = ["fc2", "c3"]
    error = only_error(validate(lenet_doc))
    assert error.code == "shape_mismatch" and (error.node_id, error.port) == ("c3", "in")
    assert (
        error.message == "conv2d 'c3' expects 4-D input [N,C,H,W] but 'fc1' gives [N,120]: insert a reshape?"
    )
    assert error.fix == {"insert": "reshape", "params": {"shape": [1, 10, 12]}}


def test_downstream_of_an_error_is_unknown_without_cascade(draft: DocBuilder) -> None:
    draft.add("x", "vector_input", {"features": 8})
    draft.add("bad", "conv2d", {}, "x")
    draft.add("after", "relu", {}, "bad")
    draft.add("fc", "linear", {"out_features": 3}, "after")
    report = validate(draft.doc())
    assert only_error(report).node_id == "bad"
    assert set(report.nodes) == {"x"}
    assert [e.shape for e in report.edges] == [(1, 8), None, None]


def test_half_built_graph_still_gets_shapes(draft: DocBuilder) -> None:
    draft.add("x", "image_input", {"channels": 3, "height": 16, "width": 16})
    draft.add("c1", "conv2d", {"out_channels": 8, "stride": 2, "padding": 1}, "x")
    draft.add("p", "max_pool2d", {}, "c1")
    draft.add("fc", "linear", {"out_features": "ten"}, "p")
    draft.add("loose", "relu")
    report = validate(draft.doc())
    assert sorted(codes(report)) == ["invalid_param", "missing_input"]
    assert report.nodes["p"].outputs["out"] == (1, 8, 4, 4)
    assert report.nodes["c1"].params == 8 * 3 * 9 + 8


def test_variadic_add_reports_each_input_source(draft: DocBuilder) -> None:
    draft.add("x", "image_input", {"channels": 3, "height": 8, "width": 8})
    draft.add("a", "conv2d", {"out_channels": 8, "padding": 1}, "x")
    draft.add("b", "conv2d", {"out_channels": 4, "padding": 1}, "x")
    draft.add("c", "conv2d", {"out_channels": 8, "padding": 1}, "x")
    draft.add("sum", "add", {"num_inputs": 3}, "a", "b", "c")
    error = only_error(validate(draft.doc()))
    assert (error.code, error.node_id, error.port) == ("shape_mismatch", "sum", "in1")
    assert error.message == (
        "add 'sum' expects inputs of one shape (or broadcastable) but in0 is [N,8,8,8], in1 is [N,4,8,8], "
        "in2 is [N,8,8,8] (in0 from 'a', in1 from 'b', in2 from 'c')"
    )


def test_add_broadcasts_a_parameter(draft: DocBuilder) -> None:
    draft.add("x", "image_input", {"channels": 4, "height": 5, "width": 5})
    draft.add("scale", "parameter", {"shape": [4, 1, 1], "init": "ones"})
    draft.add("m", "multiply", {}, "x", "scale")
    report = validate(draft.doc(), batch_size=3)
    assert report.ok and report.nodes["m"].outputs["out"] == (3, 4, 5, 5) and report.params == 4


def test_token_ids_need_an_embedding(draft: DocBuilder) -> None:
    draft.add("tok", "token_input", {"seq_len": 12})
    draft.add("fc", "linear", {}, "tok")
    error = only_error(validate(draft.doc()))
    assert error.code == "dtype_mismatch"
    assert error.fix == {"insert": "embedding", "params": {"num_embeddings": 1000}}  # the vocabulary of tok
    assert (
        error.message
        == "linear 'fc' computes on float values but 'tok' gives token ids (int64): insert an embedding?"
    )


def test_text_classifier_with_embedding_attention_and_lstm(draft: DocBuilder) -> None:
    draft.add("tok", "token_input", {"seq_len": 12, "vocab_size": 100})
    draft.add("emb", "embedding", {"num_embeddings": 100, "embedding_dim": 16}, "tok")
    draft.add("pos", "positional_encoding", {"max_len": 64}, "emb")
    draft.add("att", "multi_head_attention", {"num_heads": 4})
    draft.connect("pos", "att", "query")
    draft.add("rnn", "lstm", {"hidden_size": 8, "bidirectional": True}, "att")
    draft.add("fc", "linear", {"out_features": 3}, "rnn:last")
    report = validate(draft.doc(outputs=["fc", "rnn:out"]), batch_size=2)
    assert report.ok, report.errors
    assert report.nodes["rnn"].outputs == {"out": (2, 12, 16), "last": (2, 16)}
    assert report.outputs == ["fc:out", "rnn:out"]
    assert report.nodes["tok"].dtypes == {"out": "int64"}


def test_embedding_refuses_float_values(draft: DocBuilder) -> None:
    draft.add("x", "vector_input")
    draft.add("emb", "embedding", {}, "x")
    assert only_error(validate(draft.doc())).code == "dtype_mismatch"


def test_linear_on_an_image_is_a_warning(draft: DocBuilder) -> None:
    draft.add("x", "image_input")
    draft.add("fc", "linear", {}, "x")
    report = validate(draft.doc())
    assert report.ok and [w.code for w in report.warnings] == ["suspicious_shape"]
    assert report.warnings[0].fix == {"insert": "flatten"}


# ---- batch size, totals and limits -----------------------------------------------------
def test_batch_size_scales_flops_and_activations_not_params(lenet_doc: dict[str, Any]) -> None:
    one, eight = validate(lenet_doc, batch_size=1), validate(lenet_doc, batch_size=8)
    assert eight.params == one.params
    assert eight.flops == 8 * one.flops
    assert eight.memory["fp32"]["activations"] == 8 * one.memory["fp32"]["activations"]
    assert eight.nodes["c1"].outputs["out"][0] == 8


def test_memory_estimate_per_precision(lenet_doc: dict[str, Any]) -> None:
    """The estimate models the engine: fp32 master weights, gradients and Adam state in every mode,
    autocast's 16-bit weight copies in the low ones, and only the values backward needs."""
    report = validate(lenet_doc, batch_size=2)
    fp32, mixed = report.memory["fp32"], report.memory["fp16"]
    assert fp32["weights"] == fp32["gradients"] == mixed["weights"] == 4 * report.params
    assert fp32["optimizer"] == mixed["optimizer"] == 8 * report.params  # Adam: two moments
    assert fp32["weight_copies"] == 0 and mixed["weight_copies"] == 2 * report.params  # all conv/linear
    # Kept for backward: the input batch, the ReLU outputs (ReLU saves its output), the pooled maps
    # (read by a convolution, and through the flatten view by fc1) and fc1's output (read by fc2);
    # not the conv outputs, which only a ReLU reads.
    kept = 2 * (1 * 28 * 28 + 6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 16 * 5 * 5 + 120)
    assert fp32["activations"] == 4 * kept
    # In fp16 the input batch stays fp32 and is kept again as the 16-bit copy c1 reads.
    image = 2 * 28 * 28
    assert mixed["activations"] == image * (4 + 2) + (kept - image) * 2
    # The largest layer's input and output gradients, alive together in backward (r1).
    assert fp32["backward_workspace"] == 4 * 2 * (2 * 6 * 28 * 28) == 2 * mixed["backward_workspace"]
    assert fp32["total"] == sum(v for k, v in fp32.items() if k != "total")
    assert report.memory["bf16"] == report.memory["dynamic"] == mixed
    assert set(report.memory) == {"fp32", "fp16", "bf16", "dynamic"}  # RunConfig's precision modes
    big = validate(lenet_doc, batch_size=256).memory
    assert big["fp16"]["total"] < big["fp32"]["total"]  # activations outweigh the weight copies


def _numel(shape: tuple[int, ...]) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


def test_invalid_batch_size_is_an_error(lenet_doc: dict[str, Any]) -> None:
    report = validate(lenet_doc, batch_size=0)
    assert codes(report) == ["invalid_batch_size"]
    assert report.nodes["fc2"].outputs["out"] == (1, 10)


def test_too_many_nodes_is_refused_before_analysis(lenet_doc: dict[str, Any]) -> None:
    report = validate(lenet_doc, limits=Limits(max_nodes=5))
    assert codes(report) == ["too_large"] and not report.nodes


def test_too_many_parameters(draft: DocBuilder) -> None:
    draft.add("x", "vector_input", {"features": 30_000})
    draft.add("fc", "linear", {"out_features": 30_000}, "x")
    error = only_error(validate(draft.doc()))
    assert error.code == "too_large" and "900.0M parameters" in error.message


def test_too_much_memory(lenet_doc: dict[str, Any]) -> None:
    report = validate(lenet_doc, batch_size=1024, limits=Limits(max_memory_bytes=1 << 20))
    assert codes(report) == ["too_large"] and "GiB" in report.errors[0].message
