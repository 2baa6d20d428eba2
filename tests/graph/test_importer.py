"""from_module: torchvision and hand-written modules import into graphs that compute the same."""
from __future__ import annotations

import json
from typing import Any

import pytest
import torch
import torchvision
from torch import nn

from builder.graph import compile_graph, validate
from builder.graph.document import is_valid_node_id
from builder.graph.importer import InputSizeError, UnsupportedModuleError, from_module

# (name, constructor kwargs, input size): small inputs keep the whole file fast on 2 cores.
TORCHVISION_CASES = [
    ("resnet18", {}, 64),
    ("resnet50", {}, 64),
    ("vgg11_bn", {}, 32),
    ("mobilenet_v2", {}, 64),
    ("alexnet", {}, 64),
    ("densenet121", {}, 32),  # concat
    ("mobilenet_v3_small", {}, 64),  # squeeze-excitation, hardswish
    ("resnext50_32x4d", {}, 32),  # grouped conv
    ("efficientnet_b0", {}, 32),  # SE, SiLU, stochastic depth
    ("squeezenet1_0", {}, 64),  # fire modules: concat, ceil-mode pooling
    ("googlenet", {"aux_logits": False, "init_weights": True}, 64),  # inception concat
    ("regnet_y_400mf", {}, 64),
    ("convnext_tiny", {}, 32),  # permute + layer_norm, layer scale parameter
    ("shufflenet_v2_x0_5", {}, 32),  # chunk, channel shuffle
]
TOLERANCE = 1e-5


def _round_trip(model: nn.Module, *inputs: torch.Tensor) -> tuple[dict[str, Any], float]:
    model.eval()
    doc, weights = from_module(model, inputs if len(inputs) > 1 else inputs[0])
    compiled = compile_graph(doc, batch_size=inputs[0].shape[0])
    compiled.load_state_dict(weights, strict=True)
    compiled.eval()
    with torch.no_grad():
        expected, got = model(*inputs), compiled(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    _assert_informative(expected)
    return doc, max(float((a - b).abs().max()) for a, b in zip(got, expected, strict=True))


def _assert_informative(outputs: tuple[torch.Tensor, ...]) -> None:
    """A comparison means something only if the model's outputs vary (a zero-initialised head
    gives all-zero logits, which any graph "matches")."""
    assert all(float(o.float().std()) > 1e-4 for o in outputs if o.numel() > 1), "constant model output"


@pytest.mark.parametrize(("name", "kwargs", "size"), TORCHVISION_CASES, ids=[c[0] for c in TORCHVISION_CASES])
def test_torchvision_round_trip(name: str, kwargs: dict[str, Any], size: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=10, **kwargs)
    _randomize_batch_norm(model)
    doc, diff = _round_trip(model, torch.randn(2, 3, size, size))
    assert diff <= TOLERANCE
    assert validate(doc, batch_size=2).ok


def test_shufflenet_splits_with_chunk() -> None:
    doc, _ = from_module(torchvision.models.shufflenet_v2_x0_5(weights=None), torch.randn(1, 3, 32, 32))
    chunks = [n for n in doc["nodes"] if n["type"] == "chunk"]
    assert len(chunks) == 13 and all(n["params"] == {} for n in chunks)  # chunks=2, dim=1: defaults
    assert {e["source_port"] for e in doc["edges"] if e["source"] == chunks[0]["id"]} == {"out0", "out1"}


def _vit(**kwargs: Any) -> torchvision.models.VisionTransformer:
    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        **{"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 4, "hidden_dim": 32,
           "mlp_dim": 64, "num_classes": 10, **kwargs}
    )
    return _with_random_head(model).eval()


def _with_random_head(model: torchvision.models.VisionTransformer) -> torchvision.models.VisionTransformer:
    """torchvision zero-initialises ViT's head, so every logit is 0 whatever the encoder computes.
    Weights of std 1/sqrt(width) give logits of about unit size, like the encoder's features."""
    with torch.no_grad():
        for tensor in model.heads.head.parameters():
            tensor.normal_(std=model.hidden_dim ** -0.5)
    return model


def _check_at_batch(model: nn.Module, doc: dict[str, Any], weights: dict[str, torch.Tensor], batch: int) -> None:
    """The imported graph runs, and matches the model, at ``batch`` (whatever batch it was traced at)."""
    compiled = compile_graph(doc, batch_size=batch)
    compiled.load_state_dict(weights, strict=True)
    x = torch.randn(batch, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        _assert_informative((expected,))
        assert float((compiled.eval()(x) - expected).abs().max()) <= TOLERANCE


def test_vision_transformer_class_token_and_positions_round_trip() -> None:
    model = _vit()
    doc, diff = _round_trip(model, torch.randn(2, 3, 32, 32))
    assert diff <= TOLERANCE
    types = {n["id"]: n["type"] for n in doc["nodes"]}
    assert types["class_token"] == "parameter" and types["encoder_pos_embedding"] == "parameter"
    assert "expand_batch" in types.values() and "concat" in types.values()
    assert [n["params"] for n in doc["nodes"] if n["type"] == "select"] == [{}]  # x[:, 0]: the defaults
    doc, weights = from_module(model, torch.randn(1, 3, 32, 32))  # traced at batch 1...
    _check_at_batch(model, doc, weights, 3)  # ...runs at batch 3: the class token is expanded


@pytest.mark.slow
def test_vit_b_16_round_trip() -> None:
    torch.manual_seed(0)
    model = _with_random_head(torchvision.models.vit_b_16(weights=None, image_size=32, num_classes=10)).eval()
    doc, weights = from_module(model, torch.randn(1, 3, 32, 32))
    for batch in (1, 2):
        _check_at_batch(model, doc, weights, batch)


@pytest.mark.parametrize(("name", "count"), [("efficientnet_b0", 9), ("convnext_tiny", 18)])
def test_imported_model_trains_like_the_original(name: str, count: int) -> None:
    """Train mode, same seed: the imported graph gives the model's output exactly, because its
    stochastic depth (and dropout) layers draw the same random numbers in the same order."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=10)
    with torch.no_grad():  # ConvNeXt's layer scale starts at 1e-6: a dropped branch would hardly show
        for block in model.modules():
            scale = getattr(block, "layer_scale", None)
            if isinstance(scale, torch.Tensor):
                scale.uniform_(0.5, 1.0)
    x = torch.randn(2, 3, 64, 64)
    doc, weights = from_module(model, x)
    kept = [n for n in doc["nodes"] if n["type"] == "stochastic_depth"]
    assert len(kept) == count and all(n["label"].endswith("stochastic_depth") for n in kept)
    compiled = compile_graph(doc, batch_size=2)
    compiled.load_state_dict(weights, strict=True)
    model.train()
    compiled.train()
    outputs = []
    with torch.no_grad():
        for seed, net in ((1, model), (1, compiled), (2, compiled)):
            torch.manual_seed(seed)
            outputs.append(net(x))
    expected, same_seed, other_seed = outputs
    _assert_informative((expected,))
    assert float((same_seed - expected).abs().max()) <= TOLERANCE
    assert float((other_seed - expected).abs().max()) > 0.01  # the draws matter: not a deterministic net


class _TrainOnly(nn.Module):
    """Every train-only module and function the importer keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1)
        self.drop1d = nn.Dropout1d(0.3)
        self.alpha = nn.AlphaDropout(0.2)
        self.feature_alpha = nn.FeatureAlphaDropout(0.25)
        self.depth = torchvision.ops.StochasticDepth(0.5, "batch")
        self.head = nn.Linear(6 * 5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y = y + self.depth(self.feature_alpha(self.drop1d(y)))
        y = nn.functional.dropout(y.flatten(1), 0.1, training=self.training)
        return self.head(self.alpha(nn.functional.alpha_dropout(y, 0.1, training=self.training)))


def test_train_only_modules_become_layers_that_draw_the_same() -> None:
    torch.manual_seed(0)
    model = _TrainOnly()
    x = torch.randn(4, 4, 5)
    doc, diff = _round_trip(model, x)  # evaluation: every one of them is the identity
    assert diff <= TOLERANCE
    types = {n["id"]: n["type"] for n in doc["nodes"]}
    assert (types["drop1d"], types["alpha"], types["feature_alpha"], types["depth"]) == (
        "dropout1d", "alpha_dropout", "feature_alpha_dropout", "stochastic_depth")
    assert sorted(t for t in types.values() if "dropout" in t) == [
        "alpha_dropout", "alpha_dropout", "dropout", "dropout1d", "feature_alpha_dropout"]
    assert next(n for n in doc["nodes"] if n["id"] == "depth")["params"] == {"p": 0.5, "mode": "batch"}
    doc, weights = from_module(model, x)
    compiled = compile_graph(doc, batch_size=4)
    compiled.load_state_dict(weights, strict=True)
    model.train()
    compiled.train()
    dropped: list[bool] = []
    compiled.depth.register_forward_hook(lambda _m, _x, out: dropped.append(not out.any()))
    with torch.no_grad():
        for seed in range(6):
            torch.manual_seed(seed)
            expected = model(x)
            torch.manual_seed(seed)
            assert float((compiled(x) - expected).abs().max()) <= TOLERANCE
    assert 0 < sum(dropped) < len(dropped)  # batch mode dropped the whole branch for some seeds only


class _Indexing(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, b, c = torch.chunk(x, 3, dim=-1)
        return a[..., 1], b[:, :, -1], c[:, 0]


def test_indexing_and_chunk_functions_round_trip() -> None:
    doc, diff = _round_trip(_Indexing(), torch.randn(2, 3, 4, 6))
    assert diff == 0
    selects = [n["params"] for n in doc["nodes"] if n["type"] == "select"]
    assert selects == [{"dim": -1, "index": 1}, {"dim": 2, "index": -1}, {}]


def _randomize_batch_norm(model: nn.Module) -> None:
    """Fresh batch norms are the identity in eval mode; random statistics test the buffers."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.9, 1.1)


def test_imported_document_is_json_with_labels_and_no_positions() -> None:
    doc, weights = from_module(torchvision.models.resnet18(weights=None), torch.randn(1, 3, 32, 32))
    assert json.loads(json.dumps(doc)) == doc
    ids = [n["id"] for n in doc["nodes"]]
    assert len(ids) == len(set(ids)) and all(is_valid_node_id(i) for i in ids)
    assert doc["inputs"] == ["x"] and doc["outputs"] == ["fc"]
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert by_id["layer1_0_conv1"]["label"] == "layer1.0.conv1"
    assert by_id["conv1"]["params"] == {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3, "bias": False}
    assert by_id["x"]["params"] == {"channels": 3, "height": 32, "width": 32}
    assert by_id["bn1"]["params"] == {}  # defaults are left out
    # The canvas lays a document out when it opens (it knows how large nodes render).
    assert not any("position" in n for n in doc["nodes"])
    assert "layer1_0_bn1.running_var" in weights and "fc.bias" in weights


class _Sequence(nn.Module):
    """Attention, a PyTorch encoder layer, an LSTM, a learned scale and two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, activation="gelu", norm_first=True)
        self.lstm = nn.LSTM(16, 8, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(16)
        self.scale = nn.Parameter(torch.randn(16))
        self.head = nn.Linear(16, 3)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.embed(tokens)
        attended, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm(self.encoder(x + attended)) * self.scale
        sequence, _ = self.lstm(x)
        return self.head(x.mean(dim=1)), sequence.transpose(1, 2)


def test_attention_recurrent_and_parameters_round_trip() -> None:
    torch.manual_seed(0)
    doc, diff = _round_trip(_Sequence(), torch.randint(0, 50, (2, 7)))
    assert diff <= TOLERANCE
    types = {n["id"]: n["type"] for n in doc["nodes"]}
    assert types["tokens"] == "token_input" and types["scale"] == "parameter"
    assert types["attn"] == "multi_head_attention" and types["encoder"] == "transformer_encoder_layer"
    assert doc["outputs"] == ["head", "transpose"]


class _Functional(nn.Module):
    """Functional calls and tensor methods instead of modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.other = nn.Conv2d(4, 8, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = nn.functional.relu(self.conv(x))
        b = torch.sigmoid(self.other(y))
        z = torch.cat([a * b, a + b], dim=1)
        z = nn.functional.max_pool2d(z, 2)
        n, c, h, w = z.shape
        z = z.view(n, c, h * w).permute(0, 2, 1).contiguous()
        z = nn.functional.gelu(z).softmax(dim=-1)
        return z.reshape(n, -1)


def test_functional_ops_and_two_inputs_round_trip() -> None:
    torch.manual_seed(0)
    doc, diff = _round_trip(_Functional(), torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8))
    assert diff <= TOLERANCE
    assert doc["inputs"] == ["x", "y"]
    assert {"concat", "max_pool2d", "reshape", "permute", "softmax", "flatten"} <= {n["type"] for n in doc["nodes"]}


class _ChannelShuffle(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, 3, c // 3, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(n, c, h, w)


def test_channel_shuffle_pattern_becomes_one_layer() -> None:
    doc, diff = _round_trip(_ChannelShuffle(), torch.randn(2, 6, 3, 3))
    assert diff == 0
    assert [n["type"] for n in doc["nodes"]] == ["image_input", "channel_shuffle"]
    assert doc["nodes"][1]["params"] == {"groups": 3}


class _Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.sin(self.shuffle(x))
        return y + x.sum() + x[:, :1].mean()


def test_unsupported_operations_are_reported_together() -> None:
    with pytest.raises(UnsupportedModuleError) as info:
        from_module(_Unsupported(), torch.randn(1, 4, 4, 4))
    problems = {p["node"]: p for p in info.value.problems}
    # mean() over every dimension is a problem of its own, even though its input already is.
    assert set(problems) == {"shuffle", "sin", "sum_1", "getitem", "mean"}
    assert "PixelShuffle" in problems["shuffle"]["operation"]
    assert "slicing" in problems["getitem"]["reason"]
    assert "5 operation(s)" in str(info.value)


class _Untraceable(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.sum() > 0 else x


def test_untraceable_module_is_one_error() -> None:
    with pytest.raises(UnsupportedModuleError, match="can't trace"):
        from_module(_Untraceable(), torch.randn(1, 3))


class _TypeBranch(nn.Module):
    """Runs eagerly (the concat gives the convolution its 6 channels), but while tracing
    ``torch.jit.isinstance`` sees a proxy, not a tensor, so the trace skips the concat."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.isinstance(x, torch.Tensor):
            x = torch.cat([x, x], dim=1)
        return self.conv(x)


def test_a_branch_the_trace_takes_differently_is_not_blamed_on_the_input() -> None:
    model, x = _TypeBranch(), torch.randn(1, 3, 4, 4)
    assert model(x).shape == (1, 4, 4, 4)  # the input suits the module
    with pytest.raises(UnsupportedModuleError) as info:
        from_module(model, x)
    assert not isinstance(info.value, InputSizeError)
    assert "traced a different path" in str(info.value) and "torch.jit.isinstance" in str(info.value)


def test_training_mode_is_restored() -> None:
    model = torchvision.models.resnet18(weights=None).train()
    from_module(model, torch.randn(1, 3, 32, 32))
    assert all(m.training for m in model.modules())


def test_input_too_small_for_the_model_is_one_error() -> None:
    with pytest.raises(UnsupportedModuleError, match=r"fails on the example input \[1, 3, 2, 2\]"):
        from_module(nn.Conv2d(3, 4, 5), torch.randn(1, 3, 2, 2))


def test_a_lone_layer_imports() -> None:
    doc, diff = _round_trip(nn.Conv2d(3, 4, 3), torch.randn(2, 3, 5, 5))
    assert diff == 0
    assert [(n["id"], n["type"]) for n in doc["nodes"]] == [("x", "image_input"), ("conv2d", "conv2d")]
