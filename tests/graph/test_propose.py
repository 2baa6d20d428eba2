"""Start from the data: proposed graphs validate for the data's shape, run on a real batch and
give one value per class; adapting an existing graph's input keeps it valid or says why not."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import DocBuilder

from builder.graph import compile_graph, validate
from builder.graph.propose import DataSummary, ProposalError, adapt_input, propose_for_data
from builder.graph.templates import get_template

CASES = [
    pytest.param({"modality": "image", "shape": [1, 8, 8], "classes": 10}, "lenet5", id="digits-8x8-grey"),
    pytest.param({"modality": "image", "shape": [1, 28, 28], "classes": 10}, "lenet5", id="mnist-28x28"),
    pytest.param({"modality": "image", "shape": [3, 32, 32], "classes": 10}, "resnet18_cifar", id="cifar-32x32-rgb"),
    pytest.param({"modality": "image", "shape": [3, 64, 64], "classes": 5}, "resnet18_cifar", id="rgb-64x64"),
    pytest.param({"modality": "image", "shape": [3, 8, 8], "classes": 3}, "lenet5", id="rgb-8x8"),
    pytest.param({"modality": "image", "shape": [1, 96, 128], "classes": 4}, "resnet18_imagenet", id="grey-96x128"),
    pytest.param({"modality": "ct", "shape": [1, 32, 64, 64], "classes": 2}, "ct_cnn3d", id="ct-volume"),
    pytest.param({"modality": "ct", "shape": [1, 2, 4, 4], "classes": 2}, "ct_cnn3d", id="ct-tiny-volume"),
    pytest.param({"modality": "ct", "shape": [1, 64, 64], "classes": 3}, "resnet18_cifar", id="ct-2d-slices"),
    pytest.param({"modality": "table", "shape": [12], "classes": 3}, "tabular_mlp", id="table"),
    pytest.param({"modality": "table", "shape": [5], "task": "regression"}, "tabular_mlp", id="table-regression"),
    pytest.param({"modality": "text", "shape": [64], "classes": 4, "vocab_size": 3000}, "text_transformer", id="text"),
    pytest.param({"modality": "text", "shape": [256], "classes": 2, "vocab_size": 30000}, "text_transformer",
                 id="text-long"),
    pytest.param({"modality": "image", "shape": [3, 64, 64], "classes": 3, "task": "segmentation"}, "unet2d",
                 id="segmentation"),
    pytest.param({"modality": "ct", "shape": [1, 64, 64], "classes": 2, "task": "segmentation"}, "unet2d",
                 id="ct-slice-segmentation"),
    pytest.param({"modality": "ct", "shape": [1, 8, 16, 16], "classes": 3, "task": "segmentation"}, "unet3d",
                 id="ct-volume-segmentation"),
]


def _input_tensor(summary: dict[str, Any]) -> torch.Tensor:
    if summary["modality"] == "text":
        return torch.randint(0, summary["vocab_size"], (2, *summary["shape"]))
    return torch.rand(2, *summary["shape"])


def _expected_output(summary: dict[str, Any]) -> list[int]:
    if summary.get("task") == "regression":
        return [2, 1]
    if summary.get("task") == "segmentation":
        return [2, summary["classes"], *summary["shape"][1:]]
    return [2, summary["classes"]]


@pytest.mark.parametrize(("summary", "template"), CASES)
def test_proposal_validates_for_the_data_and_runs(summary: dict[str, Any], template: str) -> None:
    document, notes = propose_for_data(summary)
    report = validate(document, batch_size=2)
    assert report.ok, [e.message for e in report.errors]
    (input_id,) = report.inputs
    assert list(report.nodes[input_id].outputs["out"])[1:] == summary["shape"]
    node_id, port = report.outputs[0].split(":")
    assert list(report.nodes[node_id].outputs[port]) == _expected_output(summary)
    assert notes[0].startswith("started from the ")
    assert get_template(template)["name"] in notes[0]
    if summary["modality"] in ("table", "text") or summary["shape"][-1] <= 32:  # keep the forward passes cheap
        with torch.no_grad():
            out = compile_graph(document, batch_size=2).eval()(_input_tensor(summary))
        assert list(out.shape) == _expected_output(summary)


def test_digits_keep_lenet_convolutions_with_padding() -> None:
    document, notes = propose_for_data({"modality": "image", "shape": [1, 8, 8], "classes": 10, "name": "digits"})
    nodes = {n["id"]: n for n in document["nodes"]}
    assert document["name"] == "digits model"
    assert nodes["image"]["params"] == {"channels": 1, "height": 8, "width": 8}
    assert nodes["c1"]["params"]["padding"] == 2 and nodes["c3"]["params"]["padding"] == 2
    assert {"s2", "s4"} <= set(nodes)  # both pools kept: 8 -> 4 -> 2
    assert "input 'image' set to 1×8×8 (grey) (was 1×32×32)" in notes
    assert any("'same' padding so 8×8 fits" in n for n in notes)
    assert all("position" in n for n in document["nodes"])


def test_28x28_keeps_lenet_as_it_is() -> None:
    document, notes = propose_for_data({"modality": "image", "shape": [1, 28, 28], "classes": 10})
    assert all("padding" not in n["params"] for n in document["nodes"] if n["type"] == "conv2d")
    assert any(n.startswith("kept the layers of LeNet-5") for n in notes)


def test_a_volume_too_small_to_halve_twice_loses_a_pool() -> None:
    document, notes = propose_for_data({"modality": "ct", "shape": [1, 2, 4, 4], "classes": 2})
    types = [n["type"] for n in document["nodes"]]
    assert types.count("max_pool3d") == 1
    assert any(n.startswith("dropped pooling layer pool2") for n in notes)
    ids = {n["id"] for n in document["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in document["edges"])


def test_text_sizes_the_embedding_and_positions() -> None:
    document, _notes = propose_for_data({"modality": "text", "shape": [256], "classes": 2, "vocab_size": 30000})
    nodes = {n["id"]: n for n in document["nodes"]}
    assert nodes["tokens"]["params"] == {"seq_len": 256, "vocab_size": 30000}
    assert nodes["embed"]["params"]["num_embeddings"] == 30000
    assert nodes["positions"]["params"]["max_len"] == 256


def test_segmentation_with_sides_a_unet_cannot_halve_says_which_size_fits() -> None:
    with pytest.raises(ProposalError, match=r"each side must divide by 8: ingest a version resized to 48×48"):
        propose_for_data({"modality": "image", "shape": [3, 50, 50], "classes": 3, "task": "segmentation"})


def test_volume_segmentation_adapts_the_3d_unet_and_lists_the_changes() -> None:
    document, notes = propose_for_data({"modality": "ct", "shape": [1, 16, 32, 48], "classes": 4,
                                        "task": "segmentation", "name": "lungs"})
    nodes = {n["id"]: n for n in document["nodes"]}
    assert nodes["volume"]["params"] == {"channels": 1, "depth": 16, "height": 32, "width": 48}
    assert nodes["mask_logits"]["params"]["out_channels"] == 4
    assert [n["type"] for n in document["nodes"]].count("max_pool3d") == 2  # the U-Net keeps both levels
    assert notes == ["started from the U-Net (3D segmentation) template: a 3-D U-Net gives one class per voxel",
                     "input 'volume' set to 1×16×32×48 (CT volume) (was 1×32×64×64)",
                     "output 'mask_logits' set to 4 classes (was 2)",
                     "kept the layers of U-Net (3D segmentation): they fit 1×16×32×48 (CT volume)"]


def test_volume_segmentation_with_sides_the_3d_unet_cannot_halve_says_which_size_fits() -> None:
    with pytest.raises(ProposalError, match=r"halves the volume 2 times, so each side must divide by 4: ingest a "
                                            r"version with volume_shape 20×32×32"):
        propose_for_data({"modality": "ct", "shape": [1, 20, 30, 30], "classes": 2, "task": "segmentation"})


@pytest.mark.parametrize(("summary", "field"), [
    ({"modality": "audio", "shape": [1, 8]}, "modality"),
    ({"modality": "image", "shape": [8, 8], "classes": 3}, "shape"),
    ({"modality": "image", "shape": [1, 0, 8], "classes": 3}, "shape"),
    ({"modality": "image", "shape": [1, 8, 8], "classes": 1}, "classes"),
    ({"modality": "image", "shape": [1, 8, 8]}, "classes"),
    ({"modality": "text", "shape": [32], "classes": 2}, "vocab_size"),
    ({"modality": "table", "shape": [4], "classes": 2, "task": "segmentation"}, "task"),
])
def test_bad_summaries_name_the_field(summary: dict[str, Any], field: str) -> None:
    with pytest.raises(ProposalError) as caught:
        propose_for_data(summary)
    assert caught.value.field == field


def test_adapt_input_resizes_lenet_for_digits_without_touching_the_original() -> None:
    original = get_template("lenet5")
    document, notes = adapt_input(original, DataSummary("image", (1, 8, 8), classes=10))
    assert original["nodes"][0]["params"]["height"] == 32
    report = validate(document)
    assert report.ok
    assert list(report.nodes["image"].outputs["out"]) == [1, 1, 8, 8]
    assert notes[0] == "input 'image' set to 1×8×8 (grey) (was 1×32×32)"


def test_adapt_input_changes_channels_and_head() -> None:
    document, notes = adapt_input(get_template("resnet18_cifar"), {"modality": "image", "shape": [1, 48, 48],
                                                                   "classes": 4})
    report = validate(document)
    assert report.ok and list(report.nodes["fc"].outputs["out"]) == [1, 4]
    assert "output 'fc' set to 4 classes (was 10)" in notes


def test_adapt_input_refuses_another_kind_of_input() -> None:
    with pytest.raises(ProposalError, match="takes images but the dataset holds feature vectors"):
        adapt_input(get_template("lenet5"), {"modality": "table", "shape": [8], "classes": 2})


def test_adapt_input_refuses_a_graph_with_two_inputs() -> None:
    b = DocBuilder()
    b.add("a", "vector_input", {"features": 4})
    b.add("b", "vector_input", {"features": 4})
    b.add("cat", "concat", {}, "a", "b")
    b.add("fc", "linear", {"out_features": 2}, "cat")
    with pytest.raises(ProposalError, match="the graph has 2 inputs; adapting needs exactly one"):
        adapt_input(b.doc(), {"modality": "table", "shape": [8], "classes": 2})
