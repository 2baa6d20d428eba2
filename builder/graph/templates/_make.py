"""Writes the template JSON files next to this script: ``python builder/graph/templates/_make.py``
(every template) or ``... _make.py tabular_mlp`` (the ones named).

Small networks are spelled out with a tiny builder so their node ids read well on the canvas;
the torchvision-shaped ones (ResNet-18, VGG-11, MobileNetV2) are imported from torchvision
with ``from_module``, and the 3-D DenseNet-121, ResNet-18 and residual U-Net from MONAI, so they
match the reference implementations exactly.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run as a script from anywhere

from builder.graph import registry  # noqa: E402
from builder.graph.importer import from_module  # noqa: E402

HERE = Path(__file__).parent


class GraphBuilder:
    """``b.add("c1", "conv2d", {"out_channels": 6}, "x")`` adds a node fed by ``x``; inputs
    fill the layer's input ports in order and may name a port (``"lstm:last"``)."""

    def __init__(self, name: str) -> None:
        self.doc: dict[str, Any] = {"schema_version": 1, "name": name, "nodes": [], "edges": []}

    def add(self, node_id: str, type_id: str, params: dict[str, Any] | None = None, *inputs: str) -> str:
        layer = registry.get(type_id)
        assert layer is not None, type_id
        params = params or {}
        ports = layer.input_ports(layer.parse_params(params))
        self.doc["nodes"].append({"id": node_id, "type": type_id, "params": params})
        for port, source in zip(ports, inputs, strict=False):
            src, _, src_port = source.partition(":")
            self.doc["edges"].append(
                {"source": src, "source_port": src_port or "out", "target": node_id, "target_port": port}
            )
        return node_id

    def build(self) -> dict[str, Any]:
        return self.doc


def lenet5() -> dict[str, Any]:
    b = GraphBuilder("LeNet-5")
    x = b.add("image", "image_input", {"channels": 1, "height": 32, "width": 32})
    x = b.add("c1", "conv2d", {"out_channels": 6, "kernel_size": 5}, x)
    x = b.add("tanh1", "tanh", {}, x)
    x = b.add("s2", "avg_pool2d", {"kernel_size": 2}, x)
    x = b.add("c3", "conv2d", {"out_channels": 16, "kernel_size": 5}, x)
    x = b.add("tanh2", "tanh", {}, x)
    x = b.add("s4", "avg_pool2d", {"kernel_size": 2}, x)
    x = b.add("flatten", "flatten", {}, x)
    x = b.add("f5", "linear", {"out_features": 120}, x)
    x = b.add("tanh3", "tanh", {}, x)
    x = b.add("f6", "linear", {"out_features": 84}, x)
    x = b.add("tanh4", "tanh", {}, x)
    b.add("logits", "linear", {"out_features": 10}, x)
    return b.build()


def tabular_mlp() -> dict[str, Any]:
    """Wide and deep (Cheng et al., 2016): the head sees the features themselves beside the
    two hidden layers, so the linear part of a table's relation needs no ReLUs to pass through.
    One ``logits`` node sets the outputs (classes, or 1 for regression)."""
    b = GraphBuilder("MLP for tables")
    features = x = b.add("features", "vector_input", {"features": 16})
    for i in (1, 2):
        x = b.add(f"fc{i}", "linear", {"out_features": 32}, x)
        x = b.add(f"bn{i}", "batch_norm1d", {}, x)
        x = b.add(f"relu{i}", "relu", {}, x)
        x = b.add(f"drop{i}", "dropout", {"p": 0.1}, x)
    x = b.add("wide", "concat", {}, features, x)
    b.add("logits", "linear", {"out_features": 2}, x)
    return b.build()


def _conv_block(b: GraphBuilder, name: str, x: str, channels: int, dims: int = 2) -> str:
    for i in (1, 2):
        x = b.add(f"{name}_conv{i}", f"conv{dims}d", {"out_channels": channels, "kernel_size": 3, "padding": 1,
                                                       "bias": False}, x)
        x = b.add(f"{name}_bn{i}", f"batch_norm{dims}d", {}, x)
        x = b.add(f"{name}_relu{i}", "relu", {}, x)
    return x


def unet2d() -> dict[str, Any]:
    b = GraphBuilder("U-Net (2D segmentation)")
    x = b.add("image", "image_input", {"channels": 3, "height": 128, "width": 128})
    skips = []
    for level, channels in enumerate((32, 64, 128), start=1):
        x = _conv_block(b, f"enc{level}", x, channels)
        skips.append((level, channels, x))
        x = b.add(f"pool{level}", "max_pool2d", {"kernel_size": 2}, x)
    x = _conv_block(b, "bottleneck", x, 256)
    for level, channels, skip in reversed(skips):
        up = b.add(f"up{level}", "conv_transpose2d", {"out_channels": channels, "kernel_size": 2, "stride": 2}, x)
        merged = b.add(f"cat{level}", "concat", {"num_inputs": 2, "dim": 1}, up, skip)
        x = _conv_block(b, f"dec{level}", merged, channels)
    b.add("mask_logits", "conv2d", {"out_channels": 2, "kernel_size": 1}, x)
    return b.build()


def _unet3d(b: GraphBuilder) -> str:
    """The 3-D U-Net's nodes into ``b``; returns its last node (per-voxel logits for 2 classes)."""
    x = b.add("volume", "volume_input", {"channels": 1, "depth": 32, "height": 64, "width": 64})
    # Narrow (8, 16, 32): a 3-D convolution costs depth times a 2-D one, and CT mask sets are small.
    skips = []
    for level, channels in enumerate((8, 16), start=1):
        x = _conv_block(b, f"enc{level}", x, channels, dims=3)
        skips.append((level, channels, x))
        x = b.add(f"pool{level}", "max_pool3d", {"kernel_size": 2}, x)
    x = _conv_block(b, "bottleneck", x, 32, dims=3)
    for level, channels, skip in reversed(skips):
        up = b.add(f"up{level}", "conv_transpose3d", {"out_channels": channels, "kernel_size": 2, "stride": 2}, x)
        merged = b.add(f"cat{level}", "concat", {"num_inputs": 2, "dim": 1}, up, skip)
        x = _conv_block(b, f"dec{level}", merged, channels, dims=3)
    return b.add("mask_logits", "conv3d", {"out_channels": 2, "kernel_size": 1}, x)


def unet3d() -> dict[str, Any]:
    b = GraphBuilder("U-Net (3D segmentation)")
    _unet3d(b)
    return b.build()


def ct_lesion_cnn3d() -> dict[str, Any]:
    """``unet3d`` with the same node ids (so a segmentation model's weights load into it) and a
    presence head: each voxel's log-probability of lesion, its maximum over the volume, and a
    linear layer from it to the classes. A patient is called by its most lesion-like voxel, as a
    reader calls a scan by its worst finding; the network learns where lesions are from masks in
    a segmentation run, and the head learns only where to put the threshold."""
    b = GraphBuilder("3D CNN for CT, lesion-pretrained")
    x = b.add("lesion_log_prob", "log_softmax", {"dim": 1}, _unet3d(b))
    x = b.add("strongest", "adaptive_max_pool3d", {"output_size": 1}, x)
    x = b.add("flatten", "flatten", {}, x)
    b.add("logits", "linear", {"out_features": 2}, x)
    return b.build()


def ct_cnn3d() -> dict[str, Any]:
    b = GraphBuilder("3D CNN for CT volumes")
    x = b.add("volume", "volume_input", {"channels": 1, "depth": 32, "height": 64, "width": 64})
    # Narrow, as CT sets are small and a 3-D convolution is costly on a CPU; batch norm's running
    # statistics follow the weights within a few steps (momentum 0.3), since small sets of volumes
    # give few steps and evaluation uses those statistics.
    for i, channels in enumerate((8, 16, 32), start=1):
        x = b.add(f"conv{i}", "conv3d", {"out_channels": channels, "kernel_size": 3, "padding": 1, "bias": False}, x)
        x = b.add(f"bn{i}", "batch_norm3d", {"momentum": 0.3}, x)
        x = b.add(f"relu{i}", "relu", {}, x)
        if i < 3:
            x = b.add(f"pool{i}", "max_pool3d", {"kernel_size": 2}, x)
    x = b.add("gap", "adaptive_avg_pool3d", {"output_size": 1}, x)
    x = b.add("flatten", "flatten", {}, x)
    x = b.add("dropout", "dropout", {"p": 0.3}, x)
    b.add("logits", "linear", {"out_features": 2}, x)
    return b.build()


def text_transformer() -> dict[str, Any]:
    b = GraphBuilder("Small transformer text classifier")
    x = b.add("tokens", "token_input", {"seq_len": 128, "vocab_size": 10000})
    x = b.add("embed", "embedding", {"num_embeddings": 10000, "embedding_dim": 128, "padding_idx": 0}, x)
    x = b.add("positions", "positional_encoding", {"max_len": 128, "dropout": 0.1}, x)
    for i in (1, 2):
        x = b.add(f"encoder{i}", "transformer_encoder_layer",
                  {"nhead": 4, "dim_feedforward": 256, "dropout": 0.1, "activation": "gelu", "norm_first": True}, x)
    x = b.add("norm", "layer_norm", {}, x)
    x = b.add("pool", "mean", {"dims": [1]}, x)
    x = b.add("dropout", "dropout", {"p": 0.1}, x)
    b.add("logits", "linear", {"out_features": 2}, x)
    return b.build()


def _imported(model: nn.Module, size: int, name: str) -> dict[str, Any]:
    doc, _ = from_module(model.eval(), torch.zeros(1, 3, size, size), name=name)
    return doc


def resnet18_cifar() -> dict[str, Any]:
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()  # type: ignore[assignment]
    return _imported(model, 32, "ResNet-18 (CIFAR stem)")


# MONAI's 3-D networks (issue 14), imported with from_module like the torchvision ones. A network
# is built from MONAI's own constructor, so the template is that network layer for layer.
CT_VOLUME = (1, 1, 32, 64, 64)  # the CT templates' input: one channel, 32x64x64 voxels


def monai_network(template_id: str) -> nn.Module:
    """The MONAI module the ``template_id`` template is imported from (random weights)."""
    from monai.networks import nets  # a heavy import: only when a MONAI template is made

    if template_id == "densenet121_3d":
        return nets.DenseNet121(spatial_dims=3, in_channels=1, out_channels=2)
    if template_id == "resnet18_3d":
        return nets.resnet18(spatial_dims=3, n_input_channels=1, num_classes=2)
    if template_id == "residual_unet3d":
        return nets.UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(16, 32, 64, 128),
                         strides=(2, 2, 2), num_res_units=2)
    raise KeyError(template_id)


def _imported_monai(template_id: str, name: str) -> dict[str, Any]:
    doc, _ = from_module(monai_network(template_id).eval(), torch.zeros(CT_VOLUME), name=name)
    return doc


# A template may recommend run settings ("config": a partial run config) for what it is usually
# trained on. Tables are small: 10 epochs of 400 rows at the default batch of 64 is ~60 Adam steps
# at 1e-3, too few for even a linear model to converge (bench/regression_bench.py measures it).
TABLE_CONFIG = {"batch_size": 16, "optimizer": {"name": "adam", "lr": 1e-2}, "schedule": {"name": "one_cycle"}}

TEMPLATES: list[tuple[dict[str, Any], Any]] = [
    ({"id": "lenet5", "name": "LeNet-5", "task": "classification", "modality": "image",
      "description": "The classic 1998 digit classifier: two conv/pool stages and three dense layers, 32x32 greyscale."},
     lenet5),
    ({"id": "tabular_mlp", "name": "MLP for tables", "task": "classification", "modality": "table",
      "description": "Wide and deep: two hidden layers (32 units, batch norm, dropout) over 16 numeric features, "
                     "and the features themselves, into one head. Recommended: batch 16, Adam at 0.01, one-cycle.",
      "config": TABLE_CONFIG},
     tabular_mlp),
    ({"id": "resnet18_cifar", "name": "ResNet-18 (CIFAR stem)", "task": "classification", "modality": "image",
      "description": "ResNet-18 with a 3x3 stride-1 stem and no max pool, for 32x32 images and 10 classes."},
     resnet18_cifar),
    ({"id": "resnet18_imagenet", "name": "ResNet-18 (ImageNet stem)", "task": "classification", "modality": "image",
      "description": "torchvision's ResNet-18: 7x7 stride-2 stem and max pool, 224x224 images, 1000 classes."},
     lambda: _imported(torchvision.models.resnet18(weights=None), 224, "ResNet-18")),
    ({"id": "vgg11", "name": "VGG-11", "task": "classification", "modality": "image",
      "description": "torchvision's VGG-11 with batch norm: stacked 3x3 convolutions, 224x224 images, 1000 classes."},
     lambda: _imported(torchvision.models.vgg11_bn(weights=None), 224, "VGG-11")),
    ({"id": "mobilenet_v2", "name": "MobileNetV2", "task": "classification", "modality": "image",
      "description": "torchvision's MobileNetV2: inverted residuals with depthwise convolutions, 224x224 images."},
     lambda: _imported(torchvision.models.mobilenet_v2(weights=None), 224, "MobileNetV2")),
    ({"id": "unet2d", "name": "U-Net (2D segmentation)", "task": "segmentation", "modality": "image",
      "description": "Three-level U-Net with skip connections; per-pixel logits for 2 classes on 128x128 images."},
     unet2d),
    ({"id": "ct_cnn3d", "name": "3D CNN for CT volumes", "task": "classification", "modality": "ct",
      "description": "Three 3D conv stages (8, 16, 32 channels) with pooling over 1x32x64x64 volumes, "
                     "global pooling, 2 classes."},
     ct_cnn3d),
    ({"id": "unet3d", "name": "U-Net (3D segmentation)", "task": "segmentation", "modality": "ct",
      "description": "Two-level 3D U-Net (8, 16, 32 channels) with skip connections; per-voxel logits for "
                     "2 classes (background, lesion) on 1x32x64x64 volumes. Recommended: Adam at 0.001, "
                     "Dice + cross-entropy loss, cosine decay, random left-right and slice-order flips.",
      # Flips: on the seg3d bench's fixed split 0 they raised the test lesion Dice from 0.633 to
      # 0.715 (same patients and initial weights); split 1 with them 0.619 (docs/guides/training.md).
      # Adam at 0.001 instead of 0.003: at 0.003 one split's training collapsed to "no lesion" and
      # stayed there (0.195); at 0.001 the bench's 144 patients gave 0.705 / 0.763 / 0.751 on split
      # seeds 0 / 1 / 2 (docs/guides/training.md, 7 Dec 2026).
      "config": {"optimizer": {"name": "adam", "lr": 1e-3}, "loss": "dice_cross_entropy",
                 "schedule": {"name": "cosine"}, "augmentation": {"flip_horizontal": True, "flip_depth": True}}},
     unet3d),
    ({"id": "ct_lesion_cnn3d", "name": "3D CNN for CT, lesion-pretrained", "task": "classification",
      "modality": "ct", "starts_from": "unet3d",
      "description": "The 3D U-Net's network (unet3d, same layer names) with a presence head: each voxel's "
                     "log-probability of lesion, its maximum over the volume, and a linear layer to 2 classes, "
                     "on 1x32x64x64 volumes. Trained in two runs: a unet3d segmentation run on lesion masks, then "
                     "this graph on the class labels starting from that model with every layer but the head "
                     "frozen. Recommended for the second run: Adam at 0.01, batch 8, 10 epochs.",
      # The head has 6 parameters: 0.01 moves it to a threshold within a few epochs, where the
      # fine-tuning default (1e-4) would not move it at all (docs/bench/ct.md).
      "config": {"optimizer": {"name": "adam", "lr": 1e-2}, "batch_size": 8, "epochs": 10}},
     ct_lesion_cnn3d),
    ({"id": "text_transformer", "name": "Small transformer text classifier", "task": "classification",
      "modality": "text",
      "description": "Token embedding, positional encoding and two pre-norm encoder layers, mean-pooled to 2 classes."},
     text_transformer),
    # A training step on a 1x32x64x64 volume (forward and backward, one CPU thread) took 10-12 times
    # ct_cnn3d's for DenseNet121 and 20-22 times for ResNet-18, in two runs that timed all of them
    # (docs/guides/datasets.md, MONAI decisions).
    ({"id": "densenet121_3d", "name": "DenseNet-121 (3D, MONAI)", "task": "classification", "modality": "ct",
      "description": "MONAI's DenseNet121 with spatial_dims=3: dense blocks of 6, 12, 24 and 16 layers over "
                     "1x32x64x64 volumes, 2 classes. 11.2M parameters: heavy for a CPU (a training step takes "
                     "about 10 times ct_cnn3d's); meant for a GPU or many volumes."},
     lambda: _imported_monai("densenet121_3d", "DenseNet-121 (3D)")),
    ({"id": "resnet18_3d", "name": "ResNet-18 (3D, MONAI)", "task": "classification", "modality": "ct",
      "description": "MONAI's ResNet-18 with spatial_dims=3: stride-1 7x7x7 stem (MONAI's default), four stages of basic residual blocks, "
                     "1x32x64x64 volumes, 2 classes. 33.2M parameters: heavy for a CPU (a training step takes "
                     "about 20 times ct_cnn3d's); meant for a GPU or many volumes."},
     lambda: _imported_monai("resnet18_3d", "ResNet-18 (3D)")),
    ({"id": "residual_unet3d", "name": "Residual U-Net (3D, MONAI)", "task": "segmentation", "modality": "ct",
      "description": "MONAI's UNet with spatial_dims=3: strided convolutions and two residual units per level "
                     "(16, 32, 64, 128 channels), instance norm and PReLU; per-voxel logits for 2 classes on "
                     "1x32x64x64 volumes. 1.2M parameters, and faster on a CPU than unet3d (it downsamples at its "
                     "first convolution). Recommended (not tuned for it): Adam at 0.003, Dice + "
                     "cross-entropy loss, cosine decay.",
      "config": {"optimizer": {"name": "adam", "lr": 3e-3}, "loss": "dice_cross_entropy",
                 "schedule": {"name": "cosine"}}},
     lambda: _imported_monai("residual_unet3d", "Residual U-Net (3D)")),
]


def main(only: list[str]) -> None:
    """Write every template, or those whose ids are given."""
    for summary, make in TEMPLATES:
        if only and summary["id"] not in only:
            continue
        graph = make()
        graph["name"] = summary["name"]
        path = HERE / f"{summary['id']}.json"
        path.write_text(json.dumps({**summary, "graph": graph}, indent=1) + "\n")
        print(f"wrote {path.name}: {len(graph['nodes'])} nodes")


if __name__ == "__main__":
    main(sys.argv[1:])
