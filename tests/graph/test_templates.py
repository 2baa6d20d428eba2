"""Templates: every starter graph validates, compiles and runs; torchvision graphs import."""
from __future__ import annotations

import pytest
import torch
import torchvision

from builder.graph import compile_graph, validate
from builder.graph.compiler import example_inputs
from builder.graph.importer import InputSizeError
from builder.graph.templates import (
    TORCHVISION_ARCHITECTURES,
    get_template,
    list_templates,
    torchvision_graph,
)

EXPECTED = {
    "lenet5", "tabular_mlp", "resnet18_cifar", "resnet18_imagenet", "vgg11", "mobilenet_v2",
    "unet2d", "ct_cnn3d", "text_transformer",
}
# Output shape per template for a batch of 2.
OUTPUT_SHAPES = {
    "lenet5": (2, 10), "tabular_mlp": (2, 2), "resnet18_cifar": (2, 10), "resnet18_imagenet": (2, 1000),
    "vgg11": (2, 1000), "mobilenet_v2": (2, 1000), "unet2d": (2, 2, 128, 128), "ct_cnn3d": (2, 2),
    "text_transformer": (2, 2),
}


def test_list_templates_summaries() -> None:
    summaries = list_templates()
    assert {t["id"] for t in summaries} == EXPECTED
    for t in summaries:
        assert set(t) == {"id", "name", "description", "task", "modality"}
        assert all(isinstance(v, str) and v for v in t.values())


@pytest.mark.parametrize("template_id", sorted(EXPECTED))
def test_template_validates_compiles_and_runs(template_id: str) -> None:
    doc = get_template(template_id)
    report = validate(doc, batch_size=2)
    assert report.ok, [e.message for e in report.errors]
    assert not report.warnings, [w.message for w in report.warnings]
    assert not any("position" in n for n in doc["nodes"])  # the canvas lays templates out
    compiled = compile_graph(doc, batch_size=2).eval()
    with torch.no_grad():
        out = compiled(*example_inputs(doc))
    assert tuple(out.shape) == OUTPUT_SHAPES[template_id]


def test_get_template_returns_a_copy() -> None:
    get_template("lenet5")["nodes"].clear()
    assert get_template("lenet5")["nodes"]


def test_unknown_template() -> None:
    with pytest.raises(KeyError, match="no template"):
        get_template("nope")


def test_torchvision_graph_round_trips() -> None:
    torch.manual_seed(0)
    doc, weights = torchvision_graph("resnet18", num_classes=7, input_size=64)
    compiled = compile_graph(doc)
    compiled.load_state_dict(weights, strict=True)
    assert doc["name"] == "resnet18"
    assert compiled.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 7)


def test_torchvision_architectures_exist() -> None:
    assert set(TORCHVISION_ARCHITECTURES) <= set(torchvision.models.list_models(module=torchvision.models))
    with pytest.raises(KeyError):
        torchvision_graph("swin_t")


def test_vision_transformer_needs_a_multiple_of_its_patch() -> None:
    with pytest.raises(InputSizeError, match="input_size 40 is not a multiple of its patch size 16"):
        torchvision_graph("vit_b_16", input_size=40)
