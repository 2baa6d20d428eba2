"""Graph documents shared by the graph-core tests."""

from __future__ import annotations

from typing import Any

import pytest


class DocBuilder:
    """Builds a document in a few lines: ``b.add("c1", "conv2d", {"out_channels": 8}, "x")``."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []

    def add(self, node_id: str, type_id: str, params: dict[str, Any] | None = None, *sources: str) -> str:
        self.nodes.append({"id": node_id, "type": type_id, "params": params or {}})
        variadic = type_id in ("add", "concat", "multiply")
        for i, source in enumerate(sources):
            source_id, _, port = source.partition(":")
            self.edges.append(
                {
                    "source": source_id,
                    "source_port": port or "out",
                    "target": node_id,
                    "target_port": f"in{i}" if variadic else "in",
                }
            )
        return node_id

    def connect(self, source: str, target: str, target_port: str) -> None:
        source_id, _, port = source.partition(":")
        self.edges.append(
            {"source": source_id, "source_port": port or "out", "target": target, "target_port": target_port}
        )

    def doc(self, **extra: Any) -> dict[str, Any]:
        return {"schema_version": 1, "nodes": self.nodes, "edges": self.edges, **extra}


def lenet() -> dict[str, Any]:
    b = DocBuilder()
    b.add("x", "image_input", {"channels": 1, "height": 28, "width": 28})
    b.add("c1", "conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}, "x")
    b.add("r1", "relu", {}, "c1")
    b.add("p1", "max_pool2d", {}, "r1")
    b.add("c2", "conv2d", {"out_channels": 16, "kernel_size": 5}, "p1")
    b.add("r2", "relu", {}, "c2")
    b.add("p2", "max_pool2d", {}, "r2")
    b.add("flat", "flatten", {}, "p2")
    b.add("fc1", "linear", {"out_features": 120}, "flat")
    b.add("fc2", "linear", {"out_features": 10}, "fc1")
    return b.doc()


def resnet50() -> dict[str, Any]:
    """torchvision's ResNet-50 as a document: 3-4-6-3 bottlenecks, ~25.6M parameters."""
    b = DocBuilder()
    b.add("x", "image_input", {"channels": 3, "height": 224, "width": 224})
    b.add(
        "conv1",
        "conv2d",
        {"out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3, "bias": False},
        "x",
    )
    b.add("bn1", "batch_norm2d", {}, "conv1")
    b.add("relu", "relu", {}, "bn1")
    last = b.add("maxpool", "max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "relu")
    channels = 64
    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=1):
        for block in range(blocks):
            p = f"l{stage}_{block}_"
            stride = 2 if block == 0 and stage > 1 else 1
            b.add(p + "conv1", "conv2d", {"out_channels": width, "kernel_size": 1, "bias": False}, last)
            b.add(p + "bn1", "batch_norm2d", {}, p + "conv1")
            b.add(p + "relu1", "relu", {}, p + "bn1")
            b.add(
                p + "conv2",
                "conv2d",
                {"out_channels": width, "kernel_size": 3, "stride": stride, "padding": 1, "bias": False},
                p + "relu1",
            )
            b.add(p + "bn2", "batch_norm2d", {}, p + "conv2")
            b.add(p + "relu2", "relu", {}, p + "bn2")
            b.add(
                p + "conv3",
                "conv2d",
                {"out_channels": width * 4, "kernel_size": 1, "bias": False},
                p + "relu2",
            )
            b.add(p + "bn3", "batch_norm2d", {}, p + "conv3")
            shortcut = last
            if block == 0:
                b.add(
                    p + "down",
                    "conv2d",
                    {"out_channels": width * 4, "kernel_size": 1, "stride": stride, "bias": False},
                    last,
                )
                shortcut = b.add(p + "down_bn", "batch_norm2d", {}, p + "down")
            b.add(p + "add", "add", {}, p + "bn3", shortcut)
            last = b.add(p + "out", "relu", {}, p + "add")
            channels = width * 4
    b.add("avgpool", "adaptive_avg_pool2d", {"output_size": 1}, last)
    b.add("flat", "flatten", {}, "avgpool")
    b.add("fc", "linear", {"out_features": 1000}, "flat")
    assert channels == 2048
    return b.doc()


def codes(report: Any) -> list[str]:
    return [e.code for e in report.errors]


def only_error(report: Any) -> Any:
    assert len(report.errors) == 1, [e.message for e in report.errors]
    return report.errors[0]


@pytest.fixture
def draft() -> DocBuilder:
    return DocBuilder()


@pytest.fixture
def lenet_doc() -> dict[str, Any]:
    return lenet()


@pytest.fixture
def resnet50_doc() -> dict[str, Any]:
    return resnet50()
