"""A digits cache made once per session (scikit-learn's 8x8 digits through the real ingest) and
the LeNet-5 template, shared by the engine tests. No database here."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from builder.graph import validate
from builder.graph.templates import get_template
from pipelines.datasets.ingest import ingest
from pipelines.datasets.samples import write_digits


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory: Any) -> Path:
    folder = tmp_path_factory.mktemp("digits")
    ingest("image", write_digits(folder), "digits.zip", folder / "work", {})
    return folder / "work" / "cache"


@pytest.fixture(scope="session")
def lenet() -> dict[str, Any]:
    return get_template("lenet5")


@pytest.fixture(scope="session")
def lenet_flops(lenet: dict[str, Any]) -> dict[str, int]:
    return {node_id: info.flops for node_id, info in validate(lenet).nodes.items() if info.flops}


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    # The machine is shared: one intra-op thread keeps these tests from fighting other suites.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _chain(*nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": 1, "name": "chain",
            "nodes": [{"id": i, "type": t, "params": p, "position": {"x": 0.0, "y": 0.0}} for i, t, p in nodes],
            "edges": [{"source": a[0], "source_port": "out", "target": b[0], "target_port": "in"}
                      for a, b in zip(nodes, nodes[1:], strict=False)]}


@pytest.fixture(scope="session")
def tiny_cnn() -> dict[str, Any]:
    """A small CNN on the digits' own 8x8 size: half precision on a CPU is slow, so its tests use this."""
    return _chain(("image", "image_input", {"channels": 1, "height": 8, "width": 8}),
                  ("conv", "conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
                  ("relu", "relu", {}), ("pool", "max_pool2d", {"kernel_size": 2}), ("flatten", "flatten", {}),
                  ("logits", "linear", {"out_features": 10}))
