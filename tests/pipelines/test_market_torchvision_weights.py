"""Reading uploaded weights without running them (``pipelines.market.torchvision_weights``): the
file formats and checkpoint shapes that are accepted, and the head's class count read from them."""
from __future__ import annotations

import io
from typing import Any

import pytest
import torch
import torchvision
from safetensors.torch import save as st_save

from builder.graph.layout import needs_layout
from pipelines.market.torchvision_weights import (
    WeightsFileError,
    head_classes,
    import_weights,
    read_state_dict,
)


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in torchvision.models.resnet18(num_classes=7).state_dict().items()}


def _torch_save(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("shape", ["safetensors", "state_dict", "state_dict_key", "model_key", "data_parallel"])
def test_accepted_files_give_the_same_tensors(state: dict[str, torch.Tensor], shape: str) -> None:
    data, name = {
        "safetensors": (st_save(state), "w.safetensors"),
        "state_dict": (_torch_save(state), "w.pt"),
        "state_dict_key": (_torch_save({"state_dict": state, "epoch": 90}), "w.ckpt"),
        "model_key": (_torch_save({"model": state, "optimizer": {"lr": 0.1}}), "w.pth"),
        "data_parallel": (_torch_save({f"module.{k}": v for k, v in state.items()}), "w.bin"),
    }[shape]
    found = read_state_dict(data, name)
    assert sorted(found) == sorted(state)
    assert all(torch.equal(found[k], state[k]) for k in state)


def test_an_empty_state_dict_is_refused() -> None:
    with pytest.raises(WeightsFileError, match="e.pt holds no tensors"):
        read_state_dict(_torch_save({}), "e.pt")


@pytest.mark.parametrize(("architecture", "head"), [
    ("resnet18", "fc.weight"), ("squeezenet1_1", "classifier.1.weight"),  # a linear head, a conv head
    ("regnet_x_400mf", "fc.weight"),  # built on the CPU: its constructor computes with tensors
    ("vit_b_16", "heads.head.weight"),
])
def test_head_classes_reads_the_class_count_of_each_family(architecture: str, head: str) -> None:
    found = {head: torch.zeros(13, 4, 1, 1) if architecture.startswith("squeezenet") else torch.zeros(13, 4)}
    assert head_classes(architecture, found) == 13
    assert head_classes(architecture, {"not.the.head": torch.zeros(13)}) is None


def _deflated(data: bytes) -> bytes:
    """The same checkpoint with its zip entries compressed (torch.load still reads it)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return out.getvalue()


def test_a_compressed_checkpoint_is_refused_before_it_is_inflated() -> None:
    data = _deflated(_torch_save({"w": torch.zeros(1_000_000)}))
    assert len(data) < 100_000  # 4 MB of zeros in a few KB: what a zip bomb does at scale
    assert torch.load(io.BytesIO(data), weights_only=True)["w"].numel() == 1_000_000  # torch would read it
    with pytest.raises(WeightsFileError, match=r"bomb\.pt has compressed entries") as refused:
        read_state_dict(data, "bomb.pt")
    assert refused.value.code == "unreadable"


@pytest.mark.parametrize("kind", ["sparse", "quantized", "complex"])
def test_tensors_that_are_not_dense_real_data_are_refused(kind: str) -> None:
    value = {"sparse": torch.eye(3).to_sparse(),
             "quantized": torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.qint8),
             "complex": torch.ones(3, dtype=torch.complex64)}[kind]
    with pytest.raises(WeightsFileError, match=rf"w\.pt: 'fc\.weight' is a .*{kind[:5]}") as refused:
        read_state_dict(_torch_save({"fc.weight": value}), "w.pt")
    assert refused.value.code == "not_a_tensor"


def test_imported_weights_arrive_laid_out_top_to_bottom(state: dict[str, torch.Tensor]) -> None:
    """The canvas opens a market import as stored, never laying it out in the browser (issue 19)."""
    imported = import_weights("resnet18", state, filename="r18.safetensors", input_size=64)
    nodes = imported.document["nodes"]
    assert not needs_layout(nodes)
    rows = {n["id"]: n["position"]["y"] for n in nodes}
    for edge in imported.document["edges"]:  # every edge runs downwards
        assert rows[edge["source"]] < rows[edge["target"]]
