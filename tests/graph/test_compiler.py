"""compile_graph: hand-built fx graphs that match hand-written PyTorch and export cleanly."""
from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import fx, nn

from builder.graph import GraphError, compile_graph


def _node(node_id: str, type_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_id, "params": params}


def _edge(source: str, target: str, target_port: str = "in", source_port: str = "out") -> dict[str, str]:
    return {"source": source, "source_port": source_port, "target": target, "target_port": target_port}


# A small residual CNN with a concat branch, on the canvas and by hand.
RESIDUAL_DOC: dict[str, Any] = {
    "schema_version": 1,
    "nodes": [
        _node("x", "image_input", channels=3, height=16, width=16),
        _node("stem", "conv2d", out_channels=8, kernel_size=3, padding=1, bias=False),
        _node("bn", "batch_norm2d"),
        _node("act", "relu"),
        _node("branch", "conv2d", out_channels=8, kernel_size=1),
        _node("res", "add", num_inputs=2),
        _node("cat", "concat", num_inputs=2, dim=1),
        _node("pool", "adaptive_avg_pool2d", output_size=1),
        _node("flat", "flatten"),
        _node("fc", "linear", out_features=5),
    ],
    "edges": [
        _edge("x", "stem"), _edge("stem", "bn"), _edge("bn", "act"), _edge("act", "branch"),
        _edge("branch", "res", "in0"), _edge("act", "res", "in1"),
        _edge("res", "cat", "in0"), _edge("stem", "cat", "in1"),
        _edge("cat", "pool"), _edge("pool", "flat"), _edge("flat", "fc"),
    ],
}


class HandWritten(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.stem(x)
        act = torch.relu(self.bn(stem))
        cat = torch.cat([self.branch(act) + act, stem], dim=1)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(cat, 1), 1))


def _compiled_and_reference() -> tuple[fx.GraphModule, HandWritten]:
    torch.manual_seed(0)
    compiled = compile_graph(RESIDUAL_DOC)
    reference = HandWritten()
    with torch.no_grad():  # non-trivial statistics so eval-mode batch norm matters
        reference.bn.running_mean.uniform_(-1, 1)
        reference.bn.running_var.uniform_(0.5, 2)
    compiled.load_state_dict(reference.state_dict(), strict=True)
    return compiled.eval(), reference.eval()


def test_matches_hand_written_network_with_same_weights() -> None:
    compiled, reference = _compiled_and_reference()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), reference(x), rtol=0, atol=1e-6)
    compiled.train()
    reference.train()
    # Gradients agree too, so training the compiled graph trains the same network.
    compiled(x).sum().backward()
    reference(x).sum().backward()
    torch.testing.assert_close(compiled.stem.weight.grad, reference.stem.weight.grad, rtol=1e-5, atol=1e-6)


def test_state_dict_keys_are_node_ids() -> None:
    keys = set(compile_graph(RESIDUAL_DOC).state_dict())
    assert {k.partition(".")[0] for k in keys} == {"stem", "bn", "branch", "fc"}
    assert "bn.running_mean" in keys and "stem.weight" in keys


def test_forward_is_plain_generated_code() -> None:
    compiled = compile_graph(RESIDUAL_DOC)
    ops = [n.op for n in compiled.graph.nodes]
    assert ops.count("placeholder") == 1 and ops.count("output") == 1
    assert ops.count("call_module") == len(RESIDUAL_DOC["nodes"]) - 1
    assert "def forward(self, x)" in compiled.code
    assert "self.stem(x)" in compiled.code
    assert compiled.input_names == ["x"] and compiled.output_names == ["fc:out"]


def test_invalid_graph_raises_graph_error_with_report() -> None:
    doc = copy.deepcopy(RESIDUAL_DOC)
    doc["nodes"][-1]["params"]["out_features"] = 0
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "bn"]
    with pytest.raises(GraphError) as info:
        compile_graph(doc)
    codes = {e.code for e in info.value.report.errors}
    assert {"invalid_param", "missing_input"} <= codes


def _multi_io_doc() -> dict[str, Any]:
    return {
        "nodes": [
            _node("tokens", "token_input", seq_len=6, vocab_size=20),
            _node("extra", "vector_input", features=4),
            _node("emb", "embedding", num_embeddings=20, embedding_dim=8),
            _node("rnn", "lstm", hidden_size=4),
            _node("mix", "concat", num_inputs=2, dim=1),
            _node("head", "linear", out_features=3),
            _node("unused", "relu"),
        ],
        "edges": [
            _edge("tokens", "emb"), _edge("emb", "rnn"),
            _edge("rnn", "mix", "in0", source_port="last"), _edge("extra", "mix", "in1"),
            _edge("mix", "head"), _edge("head", "unused"),
        ],
        "inputs": ["extra", "tokens"],
        "outputs": ["head", "rnn:out"],
    }


def test_inputs_order_multiple_outputs_and_dead_nodes() -> None:
    compiled = compile_graph(_multi_io_doc(), batch_size=2)
    assert [n.target for n in compiled.graph.nodes if n.op == "placeholder"] == ["extra", "tokens"]
    assert not hasattr(compiled, "unused")  # no output depends on it
    head, seq = compiled(torch.randn(2, 4), torch.randint(0, 20, (2, 6)))
    assert head.shape == (2, 3) and seq.shape == (2, 6, 4)
    assert compiled.output_names == ["head:out", "rnn:out"]


def test_optional_ports_left_unconnected() -> None:
    doc = {
        "nodes": [_node("seq", "sequence_input", seq_len=5, features=8),
                  _node("attn", "multi_head_attention", num_heads=2)],
        "edges": [_edge("seq", "attn", "query")],
    }
    compiled = compile_graph(doc)
    assert "self.attn(seq)" in compiled.code
    assert compiled(torch.randn(3, 5, 8)).shape == (3, 5, 8)


def test_torchscript_script_and_trace() -> None:
    compiled, reference = _compiled_and_reference()
    x = torch.randn(2, 3, 16, 16)
    expected = reference(x)
    torch.testing.assert_close(torch.jit.script(compiled)(x), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.jit.trace(compiled, (x,))(x), expected, rtol=0, atol=1e-6)
    scripted = torch.jit.script(compile_graph(_multi_io_doc(), batch_size=2).eval())
    head, _ = scripted(torch.randn(2, 4), torch.randint(0, 20, (2, 6)))
    assert head.shape == (2, 3)


def _onnx_run(module: nn.Module, args: tuple[torch.Tensor, ...], names: list[str], path: str,
              feed: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    import onnxruntime

    # output_names is required: without it the TorchScript exporter reads a GraphModule's
    # fx graph instead of its TorchScript graph.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, path, input_names=names, output_names=["out"], dynamo=False,
            dynamic_axes={name: {0: "batch"} for name in [*names, "out"]},
        )
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {name: t.numpy() for name, t in zip(names, feed, strict=True)})


def test_onnx_export_matches_with_dynamic_batch(tmp_path: Any) -> None:
    compiled, reference = _compiled_and_reference()
    x5 = torch.randn(5, 3, 16, 16)  # exported with batch 2, run with batch 5
    (out,) = _onnx_run(compiled, (torch.randn(2, 3, 16, 16),), ["x"], str(tmp_path / "m.onnx"), (x5,))
    np.testing.assert_allclose(out, reference(x5).detach().numpy(), atol=1e-4, rtol=0)


def test_onnx_export_of_attention_graph(tmp_path: Any) -> None:
    doc = {
        "nodes": [_node("seq", "sequence_input", seq_len=5, features=8),
                  _node("enc", "transformer_encoder_layer", nhead=2, dim_feedforward=16),
                  _node("pool", "mean", dims=[1]), _node("fc", "linear", out_features=2)],
        "edges": [_edge("seq", "enc"), _edge("enc", "pool"), _edge("pool", "fc")],
    }
    compiled = compile_graph(doc).eval()
    x = torch.randn(3, 5, 8)
    (out,) = _onnx_run(compiled, (torch.randn(2, 5, 8),), ["seq"], str(tmp_path / "t.onnx"), (x,))
    np.testing.assert_allclose(out, compiled(x).detach().numpy(), atol=1e-4, rtol=0)


def test_onnx_dynamo_export(tmp_path: Any) -> None:
    pytest.importorskip("onnxscript")
    import onnxruntime

    compiled, reference = _compiled_and_reference()
    path = str(tmp_path / "d.onnx")
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(compiled, (torch.randn(2, 3, 16, 16),), path, input_names=["x"],
                          dynamic_shapes={"x": {0: batch}}, dynamo=True, verbose=False)
    x5 = torch.randn(5, 3, 16, 16)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": x5.numpy()})
    np.testing.assert_allclose(out, reference(x5).detach().numpy(), atol=1e-4, rtol=0)


def test_relu_overwrites_its_input_only_when_safe() -> None:
    doc = {
        "nodes": [
            _node("x", "image_input", channels=2, height=4, width=4),
            _node("conv", "conv2d", out_channels=2, padding=1),
            _node("r1", "relu"),  # conv feeds only r1: in place
            _node("conv2", "conv2d", out_channels=2, padding=1),
            _node("r2", "relu"),  # conv2 also feeds the add: not in place
            _node("sum", "add"),
            _node("r3", "relu"),  # the input itself: never overwritten
            _node("view", "flatten"),
            _node("r4", "relu"),  # a view of r3's output: not in place
        ],
        "edges": [
            _edge("x", "conv"), _edge("conv", "r1"), _edge("r1", "conv2"), _edge("conv2", "r2"),
            _edge("r2", "sum", "in0"), _edge("conv2", "sum", "in1"), _edge("x", "r3"),
            _edge("r3", "view"), _edge("view", "r4"),
        ],
        "outputs": ["sum", "r4"],
    }
    compiled = compile_graph(doc)
    assert [compiled.get_submodule(n).inplace for n in ("r1", "r2", "r3", "r4")] == [True, False, False, False]
    x = torch.randn(2, 2, 4, 4, requires_grad=True)
    x_before = x.detach().clone()
    total, flat = compiled(x)
    (total.sum() + flat.sum()).backward()  # autograd would raise if an overwrite were unsafe
    assert torch.equal(x.detach(), x_before)


def test_reserved_node_id_is_a_graph_error() -> None:
    doc = copy.deepcopy(RESIDUAL_DOC)
    doc["nodes"][1]["id"] = "forward"
    for e in doc["edges"]:
        for key in ("source", "target"):
            if e[key] == "stem":
                e[key] = "forward"
    with pytest.raises(GraphError) as info:
        compile_graph(doc)
    assert [e.code for e in info.value.report.errors] == ["reserved_id"]


def _class_token_doc() -> dict[str, Any]:
    """ViT's head in miniature: a class token joins the sequence, x[:, 0] reads it back; a
    chunk splits the features in two."""
    return {
        "nodes": [
            _node("seq", "sequence_input", seq_len=4, features=8),
            _node("token", "parameter", shape=[1, 8], init="normal"),
            _node("tokens", "expand_batch"),
            _node("cat", "concat"),
            _node("split", "chunk", chunks=2, dim=-1),
            _node("gate", "multiply"),
            _node("first", "select", dim=1, index=0),
        ],
        "edges": [
            _edge("token", "tokens"), _edge("seq", "tokens", "like"),
            _edge("tokens", "cat", "in0"), _edge("seq", "cat", "in1"),
            _edge("cat", "split"), _edge("split", "gate", "in0", "out0"), _edge("split", "gate", "in1", "out1"),
            _edge("gate", "first"),
        ],
    }


def _class_token_reference(token: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
    x = torch.cat([token.expand(seq.shape[0], -1, -1), seq], dim=1)
    a, b = x.chunk(2, dim=-1)
    return (a * b)[:, 0]


@pytest.mark.parametrize("batch", [1, 2])
def test_class_token_chunk_and_select(batch: int) -> None:
    compiled = compile_graph(_class_token_doc(), batch_size=batch)
    seq = torch.randn(batch, 4, 8)
    expected = _class_token_reference(compiled.token.weight, seq)
    torch.testing.assert_close(compiled(seq), expected, rtol=0, atol=0)
    torch.testing.assert_close(torch.jit.script(compiled)(seq), expected, rtol=0, atol=0)


def test_onnx_export_of_class_token_graph_has_a_dynamic_batch(tmp_path: Any) -> None:
    compiled = compile_graph(_class_token_doc()).eval()
    seq = torch.randn(3, 4, 8)  # exported with batch 1, run with batch 3
    (out,) = _onnx_run(compiled, (torch.randn(1, 4, 8),), ["seq"], str(tmp_path / "c.onnx"), (seq,))
    np.testing.assert_allclose(out, compiled(seq).detach().numpy(), atol=1e-6, rtol=0)
