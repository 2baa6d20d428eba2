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
    template_config,
    torchvision_graph,
)
from pipelines.training.config import parse_config

EXPECTED = {
    "lenet5", "tabular_mlp", "resnet18_cifar", "resnet18_imagenet", "vgg11", "mobilenet_v2",
    "unet2d", "unet3d", "ct_cnn3d", "ct_lesion_cnn3d", "text_transformer",
    "densenet121_3d", "resnet18_3d", "residual_unet3d",  # MONAI's 3-D networks (test_monai_templates.py)
}
# Output shape per template for a batch of 2.
OUTPUT_SHAPES = {
    "lenet5": (2, 10), "tabular_mlp": (2, 2), "resnet18_cifar": (2, 10), "resnet18_imagenet": (2, 1000),
    "vgg11": (2, 1000), "mobilenet_v2": (2, 1000), "unet2d": (2, 2, 128, 128), "unet3d": (2, 2, 32, 64, 64), "ct_cnn3d": (2, 2),
    "ct_lesion_cnn3d": (2, 2), "text_transformer": (2, 2),
    "densenet121_3d": (2, 2), "resnet18_3d": (2, 2), "residual_unet3d": (2, 2, 32, 64, 64),
}


def test_list_templates_summaries() -> None:
    summaries = list_templates()
    assert {t["id"] for t in summaries} == EXPECTED
    for t in summaries:
        assert set(t) == {"id", "name", "description", "task", "modality", "config", "starts_from"}
        assert all(isinstance(t[key], str) and t[key] for key in ("id", "name", "description", "task", "modality"))
        assert t["config"] == template_config(t["id"])
    # Only the lesion-pretrained CT classifier is meant to start from another template's model.
    assert {t["id"]: t["starts_from"] for t in summaries if t["starts_from"]} == {"ct_lesion_cnn3d": "unet3d"}


@pytest.mark.parametrize("template_id", sorted(EXPECTED))
def test_recommended_settings_are_a_valid_run_config(template_id: str) -> None:
    settings = template_config(template_id)
    own = next(t["task"] for t in list_templates() if t["id"] == template_id)
    for task in ("segmentation",) if own == "segmentation" else ("classification", "regression"):
        config = parse_config({**settings, "task": task}).model_dump()  # a bad field raises ConfigError
        _assert_within(settings, config)  # every recommended value is taken as given


def _assert_within(partial: dict, full: dict) -> None:
    for key, value in partial.items():
        if isinstance(value, dict):
            _assert_within(value, full[key])
        else:
            assert full[key] == value, key


def test_tabular_mlp_recommends_enough_steps_for_a_small_table() -> None:
    # Tables are small: the defaults' batch of 64 at Adam 1e-3 gives ~60 steps over 10 epochs of
    # 400 rows. The template asks for smaller batches, a larger peak rate and an annealed schedule.
    settings = template_config("tabular_mlp")
    config, bare = parse_config(settings), parse_config({})
    assert config.epochs == bare.epochs  # the default epochs: only the step size and count change
    assert config.batch_size < bare.batch_size and config.optimizer.lr > bare.optimizer.lr
    assert config.schedule.name == "one_cycle"
    template_config("tabular_mlp")["batch_size"] = 1  # a copy
    assert template_config("tabular_mlp") == settings
    with pytest.raises(KeyError, match="no template"):
        template_config("nope")


def test_tabular_mlp_is_wide_and_deep() -> None:
    """The head sees the features themselves beside the hidden layers: logits = W·[x, h] + b."""
    doc = get_template("tabular_mlp")
    # One node sets the outputs (classes, or 1 for regression): resizing the head stays one edit.
    assert {(e["source"], e["target_port"]) for e in doc["edges"] if e["target"] == "wide"} == {
        ("features", "in0"), ("drop2", "in1")}
    assert [e["source"] for e in doc["edges"] if e["target"] == "logits"] == ["wide"]
    torch.manual_seed(0)
    model = compile_graph(doc, batch_size=4).eval()
    x = torch.randn(4, 16)
    with torch.no_grad():
        out = model(x)
        hidden = model.drop2(model.relu2(model.bn2(model.fc2(model.drop1(model.relu1(model.bn1(model.fc1(x))))))))
        wide, deep = model.logits.weight[:, :16], model.logits.weight[:, 16:]
        assert deep.shape[1] == hidden.shape[1] == 32
        torch.testing.assert_close(out, x @ wide.T + hidden @ deep.T + model.logits.bias)
        # The linear path alone: with the deep weights zeroed, the output is linear in the features.
        model.logits.weight[:, 16:] = 0
        torch.testing.assert_close(model(2 * x) - model(x), x @ wide.T)


@pytest.mark.parametrize("template_id", sorted(EXPECTED))
def test_template_validates_compiles_and_runs(template_id: str) -> None:
    doc = get_template(template_id)
    report = validate(doc, batch_size=2)
    assert report.ok, [e.message for e in report.errors]
    assert not report.warnings, [w.message for w in report.warnings]
    assert all("position" in n for n in doc["nodes"])  # laid out here, so the canvas opens it at once
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
