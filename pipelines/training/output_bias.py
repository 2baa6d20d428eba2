"""Where a regression network's output starts: at the training targets' mean.

A freshly initialised network outputs values near 0. A target far from 0 (1000 plus a small
signal, a price, a temperature in kelvin) trained raw (``target_scaling: none``) then spends its
first epochs moving the output bias by about the learning rate per step, and in low precision it
may never resolve the signal on top of the offset. Starting the output layer's bias at the mean of
the training targets (as scikit-learn's ``DummyRegressor`` baseline, and the usual initialisation
of a regression head) makes the first prediction the best constant one.

``output_bias`` in the run config chooses: ``auto`` (the targets' mean for a regression on the
raw target, else the layer's own initialisation), ``target_mean`` (always, for regression) or
``layer_default``. The mean is taken in the units the network learns (after the target scaling),
over the training split only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn

from .config import RunConfig

# Modules that only reshape: a constant added to their input's bias shifts their output by the
# same constant, so the output layer may sit behind them.
_SHAPE_ONLY = (nn.Flatten, nn.Unflatten, nn.Identity)


class OutputBiasError(ValueError):
    """``output_bias: target_mean`` asked for on a model or data where it cannot apply."""


def wanted(config: RunConfig, target_scaled: bool) -> bool:
    """Whether the run starts its output at the targets' mean (see the module docstring)."""
    if config.task != "regression" or config.output_bias == "layer_default":
        return False
    return config.output_bias == "target_mean" or not target_scaled


def output_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The name and module of the layer with a bias that produces ``model``'s single output
    (through reshape-only modules), or None: a model that is not a compiled graph, has several
    outputs, or ends in anything else (an activation, an arithmetic node)."""
    if not isinstance(model, fx.GraphModule):
        return None
    output = next(node for node in model.graph.nodes if node.op == "output")
    node = output.args[0]
    while isinstance(node, fx.Node) and node.op == "call_module":
        module = model.get_submodule(str(node.target))
        if isinstance(module, _SHAPE_ONLY) and len(node.args) == 1:
            node = node.args[0]
            continue
        bias = getattr(module, "bias", None)
        return (str(node.target), module) if isinstance(bias, nn.Parameter) else None
    return None


def targets_mean(batches: Any, forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[float] | None:
    """The per-column mean of in-memory training batches' targets (``forward`` applied first),
    or None when ``batches`` is not an in-memory sequence of float targets (a loader)."""
    if not isinstance(batches, Sequence) or not batches:
        return None
    ys = [y for _, y in batches]
    if not all(isinstance(y, torch.Tensor) and y.is_floating_point() for y in ys):
        return None
    y = torch.cat([t.reshape(len(t), -1) for t in ys]).float()
    if forward is not None:
        y = forward(y)
    return [float(v) for v in y.double().mean(dim=0)]


def start_at_mean(model: nn.Module, mean: Sequence[float]) -> str:
    """Set the output layer's bias to ``mean`` (one value per output, or one for all). Returns a
    one-line account for the run's log; raises ``OutputBiasError`` when it cannot apply."""
    found = output_layer(model)
    if found is None:
        raise OutputBiasError("the graph's output does not come straight from a layer with a bias (a linear or "
                              "convolution), so its bias cannot start at the targets' mean")
    name, module = found
    bias: nn.Parameter = module.bias  # type: ignore[assignment]
    if len(mean) not in (1, bias.numel()):
        raise OutputBiasError(f"the output layer {name!r} has {bias.numel()} outputs; the targets have "
                              f"{len(mean)} columns")
    with torch.no_grad():
        bias.copy_(torch.tensor(list(mean), dtype=bias.dtype).expand(bias.shape))
    shown = ", ".join(f"{v:.6g}" for v in mean)
    return f"output layer {name!r} bias starts at the training targets' mean ({shown})"
