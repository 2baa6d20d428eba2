"""The memory estimate (``validate(...).memory``, what ``POST /runs/estimate/`` checks against the
devices) against the allocator's peak of a real training step, measured with torch.profiler's
memory events (``memory.measure_training_step``): within 25% on LeNet-5, the resnet18 graph and a
small transformer encoder, in fp32 and in bf16 autocast over fp32 master weights."""
from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from builder.graph import compile_graph, validate
from builder.graph.templates import get_template
from pipelines.training.config import PrecisionConfig
from pipelines.training.memory import CPU_METHOD, measure_training_step
from pipelines.training.precision import PrecisionPolicy

CPU = torch.device("cpu")


def _graph(template: str, size: int | None = None) -> dict[str, Any]:
    document = copy.deepcopy(get_template(template))
    for node in document["nodes"]:
        if size and node["type"] == "image_input":
            node["params"]["height"] = node["params"]["width"] = size
    return document


def _measure(document: dict[str, Any], batch: int, mode: str) -> tuple[int, dict[str, int]]:
    report = validate(document, batch_size=batch)
    assert report.ok, report.errors
    shape = report.nodes[report.inputs[0]].outputs["out"]
    classes = report.nodes[report.outputs[0].split(":")[0]].outputs["out"][1]
    torch.manual_seed(0)
    model = compile_graph(document)
    x = torch.randint(1, 100, tuple(shape)) if report.nodes[report.inputs[0]].type == "token_input" \
        else torch.randn(*shape)
    y = torch.randint(0, classes, (batch,))
    policy = PrecisionPolicy(PrecisionConfig(precision_mode=mode), CPU, model)
    found = measure_training_step(model, x, y, torch.nn.functional.cross_entropy,
                                  torch.optim.Adam(model.parameters()), policy.autocast, CPU)
    assert found["peak_bytes_method"] == CPU_METHOD
    return int(found["peak_bytes"]), report.memory[mode]


@pytest.mark.parametrize(("template", "size", "batch", "mode"), [
    ("lenet5", None, 64, "fp32"),
    ("lenet5", None, 16, "bf16"),
    ("resnet18_cifar", 64, 8, "fp32"),
    ("text_transformer", None, 8, "fp32"),
])
def test_the_estimate_is_within_25_percent_of_the_allocator_peak(template: str, size: int | None, batch: int,
                                                                 mode: str) -> None:
    measured, estimate = _measure(_graph(template, size), batch, mode)
    params = estimate["weights"] // 4
    assert measured > 16 * params  # weights, gradients and Adam's moments are all in the peak
    assert 0.75 <= estimate["total"] / measured <= 1.25, (estimate, measured)


def test_low_precision_keeps_fp32_master_weights_and_adds_16_bit_copies() -> None:
    report = validate(_graph("lenet5"), batch_size=16)
    fp32, bf16 = report.memory["fp32"], report.memory["bf16"]
    assert bf16["weights"] == fp32["weights"] and bf16["optimizer"] == fp32["optimizer"]
    assert fp32["weight_copies"] == 0 and bf16["weight_copies"] == 2 * (fp32["weights"] // 4)
    assert 0.4 * fp32["activations"] < bf16["activations"] < fp32["activations"]
