"""Starter graphs: hand-made templates (JSON files in ``templates/``) and torchvision models.

Each template file holds ``{"id", "name", "description", "task", "modality", "graph"}`` where
``graph`` is a graph document, and may hold ``config``: the run settings the template recommends
(a partial run config, e.g. the tabular MLP's batch size, learning rate and schedule), and
``starts_from``: the template whose trained model it is meant to be fine-tuned from (``ct_lesion_cnn3d``
from a ``unet3d`` segmentation model);
``templates/_make.py`` writes them. ``torchvision_graph`` builds
a torchvision architecture (random weights: no downloads) and imports it with ``from_module``.
"""
from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import torch

from .layout import layout_document

TEMPLATE_DIR = Path(__file__).with_name("templates")
_SUMMARY_KEYS = ("id", "name", "description", "task", "modality")

# Architectures that import exactly (tests round-trip a sample of each family).
TORCHVISION_ARCHITECTURES: tuple[str, ...] = (
    "alexnet",
    "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
    "densenet121", "densenet161", "densenet169", "densenet201",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
    "googlenet", "inception_v3",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3",
    "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_y_400mf", "regnet_y_800mf",
    "regnet_y_1_6gf",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "squeezenet1_0", "squeezenet1_1",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    # vit_h_14 (632M parameters) is left out: too large to build within a request.
    "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32",
)
# Vision transformers are built for one image size, which must be a multiple of the patch.
_VIT_PATCH = {"vit_b_16": 16, "vit_b_32": 32, "vit_l_16": 16, "vit_l_32": 32}


@cache
def _load_all() -> dict[str, dict[str, Any]]:
    templates = {}
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        templates[data["id"]] = data
    return templates


def list_templates() -> list[dict[str, Any]]:
    """Summaries of every template: ``id``, ``name``, ``description``, ``task``, ``modality``,
    ``config`` (its recommended run settings, ``{}`` when it has none) and ``starts_from`` (the
    template whose trained model it is meant to start from, ``None`` when it trains from scratch)."""
    return [{**{key: t[key] for key in _SUMMARY_KEYS}, "config": copy.deepcopy(t.get("config", {})),
             "starts_from": t.get("starts_from")}
            for t in _load_all().values()]


def template_config(template_id: str) -> dict[str, Any]:
    """A fresh copy of the run settings the template recommends (a partial run config: what it
    leaves out keeps the run config's default), ``{}`` when it has none. Raises ``KeyError`` for
    an unknown id."""
    templates = _load_all()
    if template_id not in templates:
        raise KeyError(f"no template {template_id!r}; known: {', '.join(templates)}")
    return copy.deepcopy(templates[template_id].get("config", {}))


def get_template(template_id: str) -> dict[str, Any]:
    """A fresh copy of the template's graph document, laid out top to bottom (``layout``).
    Raises ``KeyError`` for an unknown id."""
    templates = _load_all()
    if template_id not in templates:
        raise KeyError(f"no template {template_id!r}; known: {', '.join(templates)}")
    return layout_document(copy.deepcopy(templates[template_id]["graph"]))


def torchvision_graph(
    name: str, num_classes: int = 1000, input_size: int = 224
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Graph document and (randomly initialised) weights of a torchvision classifier.

    ``name`` must be in ``TORCHVISION_ARCHITECTURES``; the graph's image input is
    ``3 x input_size x input_size`` (inception_v3 needs at least 75, a vision transformer a
    multiple of its patch size), laid out top to bottom (``layout``), so the canvas opens it
    without laying it out. Raises ``KeyError`` for other names and ``InputSizeError`` (an
    ``UnsupportedModuleError``, so a ``ValueError``) when the model can't take ``input_size``.
    """
    from .importer import from_module

    model = torchvision_model(name, num_classes, input_size)
    doc, weights = from_module(model, torch.zeros(1, 3, input_size, input_size), name=name)
    return layout_document(doc), weights


def torchvision_model(name: str, num_classes: int = 1000, input_size: int = 224) -> torch.nn.Module:
    """The torchvision classifier ``name`` with random weights (no downloads), in eval mode, built
    as ``torchvision_graph`` imports it (no auxiliary heads). Raises as ``torchvision_graph``."""
    import torchvision

    from .importer import InputSizeError

    if name not in TORCHVISION_ARCHITECTURES:
        raise KeyError(f"{name!r} is not a supported torchvision architecture")
    kwargs: dict[str, Any] = {"weights": None, "num_classes": num_classes}
    if name in ("googlenet", "inception_v3"):  # auxiliary heads only run while training
        kwargs |= {"aux_logits": False, "init_weights": True}
    if name in _VIT_PATCH:
        patch = _VIT_PATCH[name]
        if input_size % patch:
            raise InputSizeError(name, f"input_size {input_size} is not a multiple of its patch size {patch}")
        kwargs["image_size"] = input_size
    return torchvision.models.get_model(name, **kwargs).eval()
