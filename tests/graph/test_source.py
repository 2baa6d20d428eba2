"""to_source: standalone PyTorch that loads the compiled graph's weights and computes the same."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from builder.graph import GraphError, LayerType, compile_graph, registry, to_source
from builder.graph.compiler import example_inputs
from builder.graph.source import SourceExportError
from builder.graph.templates import get_template

ALLOWED_IMPORTS = {"math", "torch", "torch.nn", "torch.nn.functional"}


def _node(node_id: str, type_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_id, "params": params}


def _edge(source: str, target: str, target_port: str = "in", source_port: str = "out") -> dict[str, str]:
    return {"source": source, "source_port": source_port, "target": target, "target_port": target_port}


def _mixed_doc() -> dict[str, Any]:
    """Touches most module kinds: torch.nn, generated variadic merges, the project's own
    modules (reshape, permute, parameter, attention, recurrent, positional encoding)."""
    return {
        "name": "mixed",
        "nodes": [
            _node("seq", "sequence_input", seq_len=6, features=8),
            _node("pos", "positional_encoding", max_len=16),
            _node("attn", "multi_head_attention", num_heads=2),
            _node("scale", "parameter", shape=[1, 8], init="normal"),
            _node("gate", "multiply", num_inputs=3),
            _node("enc", "transformer_encoder_layer", nhead=2, dim_feedforward=16, activation="gelu"),
            _node("rnn", "gru", hidden_size=4, bidirectional=True),
            _node("swap", "permute", dims=[0, 2, 1]),
            _node("shape", "reshape", shape=[4, 12]),
            _node("cat", "concat", num_inputs=2, dim=1),
            _node("flat", "flatten"),
            _node("fc", "linear", out_features=3),
            _node("prelu", "prelu", per_channel=False),
        ],
        "edges": [
            _edge("seq", "pos"), _edge("pos", "attn", "query"),
            _edge("attn", "gate", "in0"), _edge("scale", "gate", "in1"), _edge("pos", "gate", "in2"),
            _edge("gate", "enc"), _edge("enc", "rnn"), _edge("rnn", "swap"), _edge("swap", "shape"),
            _edge("shape", "cat", "in0"), _edge("shape", "cat", "in1"), _edge("cat", "flat"),
            _edge("flat", "fc"), _edge("fc", "prelu"),
        ],
        "outputs": ["prelu", "rnn:last"],
    }


def _check_same(doc: dict[str, Any], *inputs: torch.Tensor) -> None:
    compiled = compile_graph(doc).eval()
    namespace: dict[str, Any] = {}
    exec(compile(to_source(doc), "<generated>", "exec"), namespace)  # noqa: S102
    model = namespace["Model"]().eval()
    model.load_state_dict(compiled.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), compiled(*inputs), rtol=0, atol=0)


def test_mixed_graph_source_matches_compiled() -> None:
    _check_same(_mixed_doc(), torch.randn(2, 6, 8))


def test_lstm_source_matches_compiled() -> None:
    """LSTM and GRU share their module's base class; the exported source must carry it, and the
    LSTM's last hidden state (not its cell state) must come out."""
    doc = {"name": "lstm", "nodes": [_node("seq", "sequence_input", seq_len=5, features=3),
                                     _node("rnn", "lstm", hidden_size=4, num_layers=2, bidirectional=True)],
           "edges": [_edge("seq", "rnn")], "outputs": ["rnn:out", "rnn:last"]}
    assert "class RecurrentLayer(nn.Module)" in to_source(doc)
    _check_same(doc, torch.randn(2, 5, 3))
    compiled = compile_graph(doc).eval()
    with torch.no_grad():
        out, last = compiled(torch.randn(2, 5, 3))
    torch.testing.assert_close(last[:, :4], out[:, -1, :4])  # forward direction: the last step's output


def test_class_token_chunk_and_select_source_matches_compiled() -> None:
    doc = {
        "nodes": [
            _node("seq", "sequence_input", seq_len=4, features=6),
            _node("token", "parameter", shape=[1, 6], init="normal"),
            _node("tokens", "expand_batch"),
            _node("cat", "concat", dim=1),
            _node("split", "chunk", chunks=3, dim=2),
            _node("first", "select", dim=1, index=-1),
        ],
        "edges": [
            _edge("token", "tokens"), _edge("seq", "tokens", "like"), _edge("tokens", "cat", "in0"),
            _edge("seq", "cat", "in1"), _edge("cat", "split"), _edge("split", "first", source_port="out2"),
        ],
        "outputs": ["first", "split:out0"],
    }
    source = to_source(doc)
    assert "self.split = Chunk3(dim=2)" in source and "class Chunk3(_Chunk):" in source
    assert "self.token = ParameterTensor(shape=[1, 6])" in source
    _check_same(doc, torch.randn(2, 4, 6))


@pytest.mark.parametrize("template_id", ["lenet5", "unet2d", "text_transformer", "resnet18_cifar"])
def test_template_source_matches_compiled(template_id: str) -> None:
    doc = get_template(template_id)
    _check_same(doc, *example_inputs(doc))


def test_train_only_layers_export_and_train_the_same() -> None:
    """Stochastic depth and the dropout variants export; in training, with the same seed, the
    exported model draws what the compiled graph draws."""
    doc = {
        "name": "regularised",
        "nodes": [
            _node("img", "image_input", channels=3, height=6, width=6),
            _node("conv", "conv2d", out_channels=4, kernel_size=3, padding=1),
            _node("drop", "dropout2d", p=0.2),
            _node("depth", "stochastic_depth", p=0.4),
            _node("add", "add"),
            _node("flat", "flatten"),
            _node("alpha", "alpha_dropout", p=0.1),
            _node("fc", "linear", out_features=3),
        ],
        "edges": [
            _edge("img", "conv"), _edge("conv", "drop"), _edge("drop", "depth"), _edge("depth", "add", "in0"),
            _edge("conv", "add", "in1"), _edge("add", "flat"), _edge("flat", "alpha"), _edge("alpha", "fc"),
        ],
    }
    source = to_source(doc)
    assert "self.depth = StochasticDepth(p=0.4, mode='row')" in source
    assert "class StochasticDepth(nn.Module):" in source
    _check_same(doc, torch.randn(2, 3, 6, 6))
    compiled = compile_graph(doc).train()
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102
    model = namespace["Model"]().train()
    model.load_state_dict(compiled.state_dict(), strict=True)
    x = torch.randn(8, 3, 6, 6)
    with torch.no_grad():
        torch.manual_seed(0)
        expected = compiled(x)
        torch.manual_seed(0)
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
        assert not torch.equal(compiled(x), expected)  # another draw: training is random


def test_source_imports_only_torch_and_math() -> None:
    tree = ast.parse(to_source(_mixed_doc()))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= ALLOWED_IMPORTS | {"torch"}
    assert "class Model(nn.Module)" in to_source(_mixed_doc())


def test_source_runs_without_the_project(tmp_path: Path) -> None:
    doc = _mixed_doc()
    compiled = compile_graph(doc).eval()
    x = torch.randn(3, 6, 8)
    with torch.no_grad():
        expected = compiled(x)
    (tmp_path / "model.py").write_text(to_source(doc))
    torch.save({"weights": compiled.state_dict(), "x": x, "expected": expected}, tmp_path / "case.pt")
    script = (
        "import sys, torch\n"
        "assert not any('builder' in m for m in sys.modules)\n"
        "from model import Model\n"
        "case = torch.load('case.pt')\n"
        "m = Model().eval(); m.load_state_dict(case['weights'], strict=True)\n"
        "with torch.no_grad():\n"
        "    out = m(case['x'])\n"
        "assert all(torch.equal(a, b) for a, b in zip(out, case['expected']))\n"
        "assert 'builder' not in sys.modules\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_invalid_graph_raises_graph_error() -> None:
    with pytest.raises(GraphError):
        to_source({"nodes": [_node("x", "image_input"), _node("fc", "linear", out_features=-1)],
                   "edges": [_edge("x", "fc")]})


def test_forward_is_readable() -> None:
    source = to_source(_mixed_doc())
    assert "def forward(self, seq):" in source
    assert "= None" not in source.split("def forward")[1]  # fx's memory-freeing lines are gone
    assert "self.gate(attn, scale, pos)" in source


class _Doubler(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x


class _DoubleLayer(LayerType):
    id = "test_double"
    category = "test"
    doc = "Doubles its input (a module no exporter knows)."

    def infer(self, params: Any, in_shapes: Any) -> dict[str, tuple[int, ...]]:
        return {"out": in_shapes["in"]}

    def build(self, params: Any, in_shapes: Any) -> torch.nn.Module:
        return _Doubler()


class _DoubleLayerWithSource(_DoubleLayer):
    def source(self, params: Any, in_shapes: Any) -> str:
        return "nn.Sequential()"  # any constructor expression; here a stand-in


@pytest.mark.parametrize("layer_class", [_DoubleLayer, _DoubleLayerWithSource])
def test_layer_source_hook(layer_class: type[LayerType]) -> None:
    registry.register(layer_class, source="test")
    try:
        doc = {"nodes": [_node("x", "vector_input", features=3), _node("d", "test_double")],
               "edges": [_edge("x", "d")]}
        if layer_class is _DoubleLayer:
            with pytest.raises(SourceExportError, match="node 'd': no source form for"):
                to_source(doc)
        else:
            assert "self.d = nn.Sequential()" in to_source(doc)
    finally:
        registry.unregister("test_double")
