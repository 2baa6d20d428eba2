"""MONAI's 3-D networks as templates: each template is the graph ``from_module`` makes of the MONAI
network (so the JSON is in sync with ``_make.py``), and the compiled template, given the MONAI
network's weights, computes what the network computes."""
from __future__ import annotations

import importlib.util
import json
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from builder.graph import compile_graph
from builder.graph.importer import InputSizeError, UnsupportedModuleError, from_module
from builder.graph.templates import TEMPLATE_DIR, get_template, list_templates


def _load_make() -> ModuleType:
    """``templates/_make.py``, the script that writes the JSON (a file beside the data, not a module)."""
    spec = importlib.util.spec_from_file_location("_make_templates", TEMPLATE_DIR / "_make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_MAKE = _load_make()
CT_VOLUME, monai_network = _MAKE.CT_VOLUME, _MAKE.monai_network
MONAI_TEMPLATES = ("densenet121_3d", "resnet18_3d", "residual_unet3d")
TOLERANCE = 1e-5


def _randomized(model: nn.Module) -> nn.Module:
    """Non-trivial batch-norm statistics and affine weights, so a mis-mapped buffer shows."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("template_id", MONAI_TEMPLATES)
def test_template_is_the_monai_network_with_its_weights(template_id: str) -> None:
    torch.manual_seed(0)
    network = _randomized(monai_network(template_id))
    x = torch.randn(CT_VOLUME)
    doc, weights = from_module(network, x)

    stored = json.loads((TEMPLATE_DIR / f"{template_id}.json").read_text())["graph"]
    for key in ("nodes", "edges", "inputs", "outputs"):  # the JSON is what _make.py writes today
        assert stored[key] == doc[key], key

    compiled = compile_graph(get_template(template_id)).eval()
    compiled.load_state_dict(weights, strict=True)
    # Every tensor of the MONAI network reaches the graph: as many values, all of them loaded.
    assert sum(t.numel() for t in compiled.state_dict().values()) == sum(
        t.numel() for t in network.state_dict().values())
    with torch.no_grad():
        expected, got = network(x), compiled(x)
    assert float(expected.std()) > 1e-4  # the outputs vary, so agreeing means something
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= TOLERANCE


def test_monai_templates_are_listed_for_ct() -> None:
    summaries: dict[str, Any] = {t["id"]: t for t in list_templates()}
    assert {summaries[t]["modality"] for t in MONAI_TEMPLATES} == {"ct"}
    assert summaries["densenet121_3d"]["task"] == summaries["resnet18_3d"]["task"] == "classification"
    assert summaries["residual_unet3d"]["task"] == "segmentation"
    # The two large classifiers say they are heavy for a CPU.
    assert all("heavy for a CPU" in summaries[t]["description"] for t in ("densenet121_3d", "resnet18_3d"))


def test_basic_unet_stops_where_the_trace_leaves_its_path() -> None:
    """MONAI's BasicUNet concatenates its skips only after ``torch.jit.isinstance(x_e, Tensor)``,
    False for a traced value: the importer says so rather than blaming the input's size."""
    from monai.networks.nets import BasicUNet

    network, x = BasicUNet(spatial_dims=3, in_channels=1, out_channels=2).eval(), torch.zeros(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert network(x).shape == (1, 2, 32, 32, 32)
    with pytest.raises(UnsupportedModuleError, match="traced a different path") as info:
        from_module(network, x)
    assert not isinstance(info.value, InputSizeError)
