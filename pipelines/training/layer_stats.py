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


def compare(low: torch.Tensor, reference: torch.Tensor, low_dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """How far a layer's low-precision output is from its fp32 ``reference`` (same input), as
    0-d tensors on the device (read them with one ``tolist``):

    - ``relative``: ||low - ref|| / ||ref|| over the values finite in both (at least 1.0 when any
      value overflowed: an Inf output has lost everything);
    - ``error``: the signal error, the larger of ``relative`` and the same ratio after taking the
      batch mean out of both (the sample-to-sample variation, which a large shared offset hides);
    - ``overflow``: values Inf/NaN in ``low`` but finite in ``ref``;
    - ``underflow``: share of the non-zero values of ``ref`` that are 0 in ``low``;
    - ``absmax``: largest finite |ref| (compare with ``torch.finfo(low_dtype).max``).

    ``low_dtype`` is the precision compared (kept for callers' messages; the figures need only
    the two tensors).
    """
    ref = reference.detach().float()
    out = low.detach().float()
    finite_ref = torch.isfinite(ref)
    overflow = (finite_ref & ~torch.isfinite(out)).sum().float()
    both = finite_ref & torch.isfinite(out)
    ref0 = torch.where(both, ref, torch.zeros_like(ref))
    out0 = torch.where(both, out, torch.zeros_like(out))
    diff = out0 - ref0
    tiny = torch.finfo(torch.float32).tiny
    relative = diff.norm() / ref0.norm().clamp_min(tiny)
    error = relative
    if ref0.dim() > 0 and ref0.shape[0] > 1:
        centred = ref0 - ref0.mean(dim=0, keepdim=True)
        spread = centred.norm()
        signal = (diff - diff.mean(dim=0, keepdim=True)).norm() / spread.clamp_min(tiny)
        # A layer whose output does not vary over the batch has no signal to lose.
        error = torch.where(spread > 1e-6 * ref0.norm(), torch.maximum(relative, signal), relative)
    lost = overflow > 0
    one = torch.ones((), device=ref.device)
    relative = torch.where(lost, torch.maximum(relative, one), relative)
    error = torch.where(lost, torch.maximum(error, one), error)
    nonzero = ref0 != 0
    underflow = (nonzero & (out0 == 0)).sum().float() / nonzero.sum().clamp_min(1).float()
    finite = torch.where(finite_ref, ref.abs(), torch.zeros_like(ref))
    absmax = finite.max() if finite.numel() else torch.zeros((), device=ref.device)
    return {"error": error, "relative": relative, "overflow": overflow, "underflow": underflow, "absmax": absmax}


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
