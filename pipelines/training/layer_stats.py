"""What the engine reports about each layer: activation and gradient statistics on reporting steps,
and the first layer whose output is NaN or Inf when the loss is."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class LayerStats:
    """Per-layer activation and gradient statistics, collected on reporting steps only. The
    figures stay on the device until one ``tolist`` per report: a ``.item()`` per layer would
    stall an accelerator once per layer."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.activations: dict[str, torch.Tensor] = {}
        self.handles: list[Any] = []

    def attach(self) -> None:
        """Hook every layer, so the next forward pass records its output's mean, std and absmax."""
        for name, module in self.model.named_children():
            self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                o = out.detach().float()
                std = o.std() if o.numel() > 1 else torch.zeros((), device=o.device)
                self.activations[name] = torch.stack((o.mean(), std, o.abs().max()))
        return hook

    def detach(self) -> dict[str, dict[str, float]]:
        """Remove the hooks; returns ``{layer: {"mean", "std", "absmax"}}`` of the pass they saw."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        found, self.activations = self.activations, {}
        if not found:
            return {}
        rows = torch.stack(list(found.values())).tolist()
        return {name: {"mean": row[0], "std": row[1], "absmax": row[2]} for name, row in zip(found, rows, strict=True)}

    def gradients(self) -> dict[str, float]:
        """``{layer: norm of its parameters' gradients}`` for the layers that have gradients."""
        names, norms = [], []
        for name, module in self.model.named_children():
            grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
            if grads:
                names.append(name)
                norms.append(torch.linalg.vector_norm(torch.stack(grads)))
        return dict(zip(names, torch.stack(norms).tolist(), strict=True)) if norms else {}


def first_nonfinite_layer(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
    """Run a forward pass and name the first layer (in graph order) whose output is NaN or Inf."""
    order: list[str] = []
    bad: set[str] = set()
    handles = []
    for name, module in model.named_children():
        def hook(_m: nn.Module, _a: Any, out: Any, _name: str = name) -> None:
            order.append(_name)
            if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
                bad.add(_name)
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return next((name for name in order if name in bad), None)
