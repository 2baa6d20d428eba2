"""Small graphs trained for a few seconds on sklearn's digits (8x8 greyscale, 10 classes), for the
compress, export and serving tests. Nothing is downloaded."""
from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch

DIGIT_CLASSES = [str(i) for i in range(10)]


def _node(node_id: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "params": params}


def _chain(*ids: str) -> list[dict[str, str]]:
    return [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]


def resnet_doc(width: int = 16) -> dict[str, Any]:
    """A ResNet-style CNN: a residual block, a strided conv, a depthwise conv and a classifier."""
    w = width
    nodes = [
        _node("image", "image_input", channels=1, height=8, width=8),
        _node("stem", "conv2d", out_channels=w, padding=1, bias=False), _node("stem_bn", "batch_norm2d"),
        _node("stem_relu", "relu"),
        _node("b1_conv1", "conv2d", out_channels=w, padding=1, bias=False), _node("b1_bn1", "batch_norm2d"),
        _node("b1_relu", "relu"),
        _node("b1_conv2", "conv2d", out_channels=w, padding=1, bias=False), _node("b1_bn2", "batch_norm2d"),
        _node("b1_add", "add"), _node("b1_out", "relu"),
        _node("down", "conv2d", out_channels=2 * w, padding=1, stride=2, bias=False),
        _node("down_bn", "batch_norm2d"), _node("down_relu", "relu"),
        _node("dw", "conv2d", out_channels=2 * w, padding=1, groups=2 * w, bias=False),
        _node("dw_bn", "batch_norm2d"), _node("dw_relu", "relu"),
        _node("pool", "adaptive_avg_pool2d"), _node("flat", "flatten"),
        _node("logits", "linear", out_features=10),
    ]
    edges = [
        *_chain("image", "stem", "stem_bn", "stem_relu", "b1_conv1", "b1_bn1", "b1_relu", "b1_conv2", "b1_bn2"),
        {"source": "b1_bn2", "target": "b1_add", "target_port": "in0"},
        {"source": "stem_relu", "target": "b1_add", "target_port": "in1"},
        *_chain("b1_add", "b1_out", "down", "down_bn", "down_relu", "dw", "dw_bn", "dw_relu", "pool", "flat", "logits"),
    ]
    return {"schema_version": 1, "name": "digits-resnet", "nodes": nodes, "edges": edges}


def concat_doc(width: int = 12) -> dict[str, Any]:
    """Two branches concatenated on channels, then a flatten and two linears (no global pool)."""
    nodes = [
        _node("image", "image_input", channels=1, height=8, width=8),
        _node("a", "conv2d", out_channels=width, padding=1), _node("a_relu", "relu"),
        _node("b", "conv2d", out_channels=width, kernel_size=5, padding=2), _node("b_relu", "relu"),
        _node("cat", "concat"), _node("cat_bn", "batch_norm2d"),
        _node("pool", "max_pool2d", kernel_size=2), _node("flat", "flatten"),
        _node("hidden", "linear", out_features=48), _node("hidden_relu", "relu"),
        _node("logits", "linear", out_features=10),
    ]
    edges = [
        *_chain("image", "a", "a_relu"), *_chain("image", "b", "b_relu"),
        {"source": "a_relu", "target": "cat", "target_port": "in0"},
        {"source": "b_relu", "target": "cat", "target_port": "in1"},
        *_chain("cat", "cat_bn", "pool", "flat", "hidden", "hidden_relu", "logits"),
    ]
    return {"schema_version": 1, "name": "digits-concat", "nodes": nodes, "edges": edges}


def mlp_doc() -> dict[str, Any]:
    nodes = [_node("features", "vector_input", features=64), _node("fc1", "linear", out_features=64),
             _node("act", "relu"), _node("logits", "linear", out_features=10)]
    return {"schema_version": 1, "name": "digits-mlp", "nodes": nodes,
            "edges": _chain("features", "fc1", "act", "logits")}


@cache
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, test x, test y): images [N,1,8,8] scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.from_numpy((data.images / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(data.target.astype(np.int64))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def train(document: dict[str, Any], *, epochs: int = 3, flat: bool = False, seed: int = 0,
          model: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Train (or fine-tune ``model``) on digits; returns the state dict."""
    from builder.graph import compile_graph

    torch.manual_seed(seed)
    model = model if model is not None else compile_graph(document)
    x, y, _, _ = digits()
    if flat:
        x = x.flatten(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for start in range(0, len(y), 64):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[start:start + 64]), y[start:start + 64])
            loss.backward()
            optimizer.step()
    model.eval()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_package(kind: str = "resnet") -> Any:
    """A ``ModelPackage`` of a digits model trained here, with a model card."""
    from pipelines.export.package import ModelPackage, make_card

    document = {"resnet": resnet_doc, "concat": concat_doc, "mlp": mlp_doc}[kind]()
    weights = _trained_weights(kind)
    card = make_card(document, name=f"digits-{kind}", classes=DIGIT_CLASSES,
                     preprocessing={"input": "image", "scale": 1 / 16} if kind != "mlp" else {},
                     dataset={"name": "sklearn digits"}, training_config={"epochs": 3})
    return ModelPackage(document, {k: v.clone() for k, v in weights.items()}, card)


@cache
def _trained_weights(kind: str) -> dict[str, torch.Tensor]:
    document = {"resnet": resnet_doc, "concat": concat_doc, "mlp": mlp_doc}[kind]()
    return train(document, flat=kind == "mlp")


def samples(kind: str = "resnet", n: int = 64) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Held-out samples (one tensor per input) and labels."""
    _, _, x, y = digits()
    if kind == "mlp":
        x = x.flatten(1)
    return (x[:n],), y[:n]
