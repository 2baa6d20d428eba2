"""One test walks every registered layer type: each example's shape rule, parameter count and
FLOPs are checked against the module that ``build`` returns, run for real."""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from typing import Any

import onnxruntime
import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import builder.graph  # noqa: F401  (registers the built-in layers)
from builder.graph import modules
from builder.graph.registry import LayerType, registry

CASES = [
    pytest.param(layer, i, id=f"{layer.id}-{i}")
    for layer in sorted(registry, key=lambda layer: layer.id)
    for i in range(max(1, len(layer.examples)))
]


def _inputs(layer: LayerType, params: Any, example: dict[str, Any]) -> list[torch.Tensor | None]:
    shapes = example["inputs"]
    args: list[torch.Tensor | None] = []
    for port in layer.input_ports(params):
        shape = shapes.get(port)
        if shape is None:
            args.append(None)
        elif example.get("dtype") == "int64":
            args.append(torch.randint(0, 3, shape))
        else:
            args.append(torch.randn(shape))
    while args and args[-1] is None:
        args.pop()
    return args


def _independent_flops(
    module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> int | None:
    """Convolution and linear FLOPs counted from the real module's weights."""
    bias = (
        module.bias.numel() * math.prod(out_shape) // out_shape[1]
        if getattr(module, "bias", None) is not None
        else 0
    )
    if isinstance(module, nn.Linear):
        rows = math.prod(in_shape[:-1])
        return 2 * rows * module.weight.numel() + (
            rows * module.out_features if module.bias is not None else 0
        )
    if isinstance(module, nn.modules.conv._ConvNd):
        w = module.weight
        positions = (
            math.prod(in_shape) // in_shape[1] if module.transposed else math.prod(out_shape) // out_shape[1]
        )
        bias = math.prod(out_shape) if module.bias is not None else 0
        return 2 * w.numel() * positions + bias
    return None


@pytest.mark.parametrize(("layer", "index"), CASES)
def test_layer_type(layer: LayerType, index: int) -> None:
    check_layer_example(layer, index)


def check_layer_example(layer: LayerType, index: int) -> None:
    """Shapes, parameter count, FLOPs and exportability of ``layer.examples[index]``."""
    description = type(layer).describe()
    json.dumps(description)
    for name, field in description["params_schema"].get("properties", {}).items():
        assert "description" in field, f"{layer.id}.{name} has no description"
        assert "default" in field, f"{layer.id}.{name} has no default"
    assert layer.examples, f"{layer.id} declares no examples"

    example = layer.examples[index]
    params = layer.parse_params(example["params"])
    in_shapes = {port: tuple(shape) for port, shape in example["inputs"].items()}
    inferred = layer.infer(params, in_shapes)
    assert list(inferred) == layer.output_ports(params)

    module = layer.build(params, in_shapes).eval()
    if layer.is_input:  # built as an identity over the batch fed to forward()
        assert inferred["out"] == (1, *layer.sample_shape(params))
        example = {**example, "inputs": {"in": inferred["out"]}}
        args = [torch.zeros(inferred["out"])]
    else:
        args = _inputs(layer, params, example)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The math backend runs attention as matmuls, which FlopCounterMode can count.
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            result = module(*args)
    outputs = result if isinstance(result, tuple) else (result,)
    assert {
        port: tuple(t.shape) for port, t in zip(layer.output_ports(params), outputs, strict=True)
    } == inferred

    assert layer.param_count(params, in_shapes) == sum(p.numel() for p in module.parameters())

    flops = layer.flops(params, in_shapes, inferred)
    assert isinstance(flops, int) and flops >= 0
    exact = _independent_flops(module, next(iter(in_shapes.values()), ()), next(iter(inferred.values())))
    if exact is not None:
        assert flops == exact
    counted = counter.get_total_flops()
    if counted:
        # FlopCounterMode counts matmuls and convolutions only; ours adds elementwise work.
        elements = sum(math.prod(s) for s in (*in_shapes.values(), *inferred.values()))
        assert counted <= flops <= counted + 16 * elements, (counted, flops)

    _check_exportable(module, args, outputs)


def _check_exportable(
    module: nn.Module, args: list[torch.Tensor | None], outputs: tuple[torch.Tensor, ...]
) -> None:
    """TorchScript compiles every built module; our own modules also trace with torch.fx."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(module)
        if type(module).__module__ in modules.FAMILIES:
            none_args = {
                name: None
                for name, arg in zip(("query", "key", "value"), args + [None] * 3, strict=False)
                if arg is None
            }
            traced = torch.fx.symbolic_trace(
                module, concrete_args=none_args if isinstance(module, modules.MultiHeadAttention) else None
            )
            for fn in (scripted, traced):
                with torch.no_grad():
                    again = fn(*args)
                again = again if isinstance(again, tuple) else (again,)
                assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(again, outputs, strict=True))
            _check_onnx(module, [a for a in args if a is not None], outputs)


def _check_onnx(module: nn.Module, args: list[torch.Tensor], outputs: tuple[torch.Tensor, ...]) -> None:
    """Our own modules export to ONNX (TorchScript-based exporter: fast) and run the same.
    An input used only for its (fixed) size, like expand_batch's ``like``, is folded away."""
    buffer = io.BytesIO()
    names = [f"arg{i}" for i in range(len(args))]
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(module, tuple(args), buffer, input_names=names, dynamo=False)
    session = onnxruntime.InferenceSession(buffer.getvalue())
    given = dict(zip(names, args, strict=True))
    feed = {i.name: given[i.name].numpy() for i in session.get_inputs()}
    for got, want in zip(session.run(None, feed), outputs, strict=True):
        assert torch.allclose(torch.from_numpy(got), want, atol=1e-5)
