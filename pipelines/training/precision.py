"""fp32, fp16 (autocast + gradient scaler), bf16 (autocast) and dynamic precision.

``dynamic`` runs every layer in low precision by default. Every ``probe_every`` steps, and after
an overflow, it runs a probe batch: each layer's fp32 input goes through the layer in fp32 and in
low precision (``layer_stats.compare``), and a layer moves to fp32 for the first of these reasons:

- ``overflow``: the low-precision output has Inf/NaN where fp32's is finite (an fp16 input or
  output beyond 65504), so the step would be skipped or the weights poisoned;
- ``range``: the output's largest magnitude is within 2x of the low dtype's largest finite value
  (no headroom left: a little more growth overflows);
- ``underflow``: more than ``threshold`` of the non-zero fp32 values become zero;
- ``error``: the relative error of the output, ||low - fp32|| / ||fp32||, exceeds ``threshold``;
- ``signal``: the error of the output's sample-to-sample variation (the output minus its batch
  mean: what batch norm, a regression loss or a comparison of samples sees) exceeds
  ``SIGNAL_FACTOR`` x ``threshold``. A large offset with a small signal (an output near 1000
  varying by 0.5, which bf16 rounds to multiples of 4) has a relative error of 0.2% but a signal
  error near 100%. The bar is higher than for ``error`` because an untrained network's outputs
  barely vary between samples, so their variation's error is several times the relative error
  while nothing that matters is lost (LeNet-5 at initialisation in bf16: 0.003 against 0.03).

It moves back only after ``hysteresis`` probes in a row with no reason to stay and errors under
half their bars, so it does not flap. Each probe's errors (``error_history``), every decision
with its reason, the low-precision share of FLOPs and loss-scale events are recorded for the run's
report.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from .config import PrecisionConfig
from .layer_stats import compare

LOW_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
FIGURES = ("error", "relative", "overflow", "underflow", "absmax")  # see layer_stats.compare
SIGNAL_FACTOR = 10.0  # the signal error's bar, in thresholds
HISTORY = 200  # probes kept in ``error_history`` (the run page plots them)


def leaf_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers whose precision is decided: the compiled graph's submodules (named after nodes)
    that hold parameters or compute, without their children."""
    return {name: module for name, module in model.named_children()}


class PrecisionPolicy:
    """Owns autocast, the gradient scaler and (in dynamic mode) the per-layer decisions."""

    def __init__(self, config: PrecisionConfig, device: torch.device, model: nn.Module,
                 layer_flops: dict[str, int] | None = None) -> None:
        self.config = config
        self.mode = config.precision_mode
        self.device = device
        low = config.low_dtype if config.low_dtype != "auto" else ("fp16" if device.type == "cuda" else "bf16")
        self.low_name = {"fp16": "fp16", "bf16": "bf16", "dynamic": low}.get(self.mode, "fp32")
        self.low_dtype = LOW_DTYPES.get(self.low_name)
        use_scaler = self.low_name == "fp16" and self.mode in ("fp16", "dynamic")
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
        self.layers = leaf_layers(model)
        self.flops = {name: int((layer_flops or {}).get(name, 0)) for name in self.layers}
        self.fp32_layers: set[str] = set()
        self._calm: dict[str, int] = {}
        self.decisions: list[dict[str, Any]] = []
        self.scale_events: list[dict[str, Any]] = []
        self.last_errors: dict[str, float] = {}
        self.last_probe: dict[str, dict[str, float]] = {}
        self.error_history: list[dict[str, Any]] = []
        self.probe_seconds = 0.0
        self.probes = 0
        self.probe_due = self.mode == "dynamic"
        self._originals: dict[str, Callable[..., Any]] = {}
        if self.mode == "dynamic":
            self._install_gates()

    # ---- autocast -------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.low_dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.low_dtype)

    def _install_gates(self) -> None:
        # An instance attribute ``forward`` replaces the method without changing state_dict keys.
        for name, module in self.layers.items():
            original = module.forward
            self._originals[name] = original

            def gated(*args: Any, _name: str = name, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                if _name not in self.fp32_layers or not torch.is_autocast_enabled(self.device.type):
                    return _original(*args, **kwargs)
                with torch.autocast(self.device.type, enabled=False):
                    return _original(*(_to_fp32(a) for a in args), **kwargs)

            module.forward = gated  # type: ignore[method-assign]

    def remove_gates(self) -> None:
        for name, module in self.layers.items():
            if name in self._originals:
                del module.forward
        self._originals.clear()

    # ---- the scaler ---------------------------------------------------------------------------
    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, step: int,
                          before_step: Callable[[], None] | None = None) -> bool:
        """Backward, (unscale), step and update the scale; False when the step was skipped (overflow)."""
        if not self.scaler.is_enabled():
            loss.backward()
            if before_step is not None:
                before_step()
            optimizer.step()
            return True
        self.scaler.scale(loss).backward()
        if before_step is not None:
            before_step()
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        new_scale = self.scaler.get_scale()
        if new_scale < scale:
            self.scale_events.append({"step": step, "event": "overflow", "scale": scale, "new_scale": new_scale})
            self.probe_due = self.mode == "dynamic"
            return False
        if new_scale > scale:
            self.scale_events.append({"step": step, "event": "grow", "scale": scale, "new_scale": new_scale})
        return True

    # ---- dynamic probing ------------------------------------------------------------------------
    def maybe_probe(self, model: nn.Module, inputs: tuple[torch.Tensor, ...], step: int) -> bool:
        if self.mode != "dynamic" or not (self.probe_due or step % self.config.probe_every == 0):
            return False
        self.probe(model, tuple(x[: self.config.probe_batch] for x in inputs), step)
        return True

    @torch.no_grad()
    def probe(self, model: nn.Module, inputs: tuple[torch.Tensor, ...], step: int) -> dict[str, float]:
        """Per-layer signal error of low precision against fp32 (with overflow, underflow and range
        figures in ``last_probe``), and the decisions it causes. Returns ``{layer: error}``."""
        started = time.perf_counter()
        captured: dict[str, tuple[tuple[Any, ...], Any]] = {}
        found: dict[str, dict[str, torch.Tensor]] = {}
        handles = [module.register_forward_hook(_capture(name, captured)) for name, module in self.layers.items()]
        was_training = model.training
        # No dropout (eval), but batch norm on the batch's statistics as training sees it; its
        # running statistics are put back afterwards: the probe has no side effects.
        model.eval()
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        kept = [{k: v.clone() for k, v in m.named_buffers(recurse=False)} for m in norms]
        for module in norms:
            module.train()
        try:
            model(*inputs)
            self._compare_layers(captured, found)
        finally:
            for handle in handles:
                handle.remove()
            for module, buffers in zip(norms, kept, strict=True):
                for key, value in buffers.items():
                    getattr(module, key).copy_(value)
            model.train(was_training)
        # One transfer for every figure: a .item() per layer would stall an accelerator.
        rows = torch.stack([torch.stack([f[k] for k in FIGURES]) for f in found.values()]).tolist() if found else []
        probe = {name: dict(zip(FIGURES, row, strict=True)) for name, row in zip(found, rows, strict=True)}
        errors = {name: figures["relative"] for name, figures in probe.items()}
        self._decide(probe, step)
        self.last_errors = errors
        self.last_probe = probe
        self.error_history.append({"step": step, "errors": {k: round(v, 6) for k, v in errors.items()},
                                   "signal": {k: round(f["error"], 6) for k, f in probe.items()}})
        del self.error_history[:-HISTORY]
        self.probe_due = False
        self.probes += 1
        self.probe_seconds += time.perf_counter() - started
        return errors

    def _compare_layers(self, captured: dict[str, tuple[tuple[Any, ...], Any]],
                        found: dict[str, dict[str, torch.Tensor]]) -> None:
        """Run each captured layer again on its fp32 input in low precision; compare into ``found``."""
        for name, (args, reference) in captured.items():
            if not isinstance(reference, torch.Tensor) or not reference.is_floating_point():
                continue
            with torch.autocast(self.device.type, dtype=self.low_dtype):
                low = self._originals.get(name, self.layers[name].forward)(*args)
            if isinstance(low, torch.Tensor):
                found[name] = compare(low, reference, self.low_dtype or torch.bfloat16)

    def _decide(self, probe: dict[str, dict[str, float]], step: int) -> None:
        for name, figures in probe.items():
            reason = self._reason(figures)
            error = figures["relative"]
            if name not in self.fp32_layers and reason is not None:
                self.fp32_layers.add(name)
                self._calm[name] = 0
                self.decisions.append({"step": step, "layer": name, "to": "fp32", "error": error,
                                       "reason": reason, "detail": self._detail(reason, figures)})
            elif name in self.fp32_layers:
                calm = self._reason(figures, slack=0.5) is None
                self._calm[name] = self._calm.get(name, 0) + 1 if calm else 0
                if self._calm[name] >= self.config.hysteresis:
                    self.fp32_layers.discard(name)
                    self.decisions.append({
                        "step": step, "layer": name, "to": self.low_name, "error": error, "reason": "calm",
                        "detail": f"{self._calm[name]} probes in a row under half of every bar"})

    def _reason(self, figures: dict[str, float], slack: float = 1.0) -> str | None:
        """Why a layer must run in fp32 (the first of overflow, range, underflow, error, signal), or
        None. ``slack`` scales the bars (a layer in fp32 goes back only under half of them)."""
        limit = torch.finfo(self.low_dtype or torch.bfloat16).max
        threshold = self.config.threshold * slack
        if figures["overflow"] > 0:
            return "overflow"
        if figures["absmax"] > limit / 2 * slack:
            return "range"
        if figures["underflow"] > threshold:
            return "underflow"
        if figures["relative"] > threshold:
            return "error"
        if figures["error"] > SIGNAL_FACTOR * threshold:
            return "signal"
        return None

    def _detail(self, reason: str, figures: dict[str, float]) -> str:
        low = self.low_name
        limit = torch.finfo(self.low_dtype or torch.bfloat16).max
        return {
            "overflow": f"{int(figures['overflow'])} values became Inf/NaN in {low} (finite in fp32; "
                        f"largest |value| {figures['absmax']:.3g}, {low} holds up to {limit:.3g})",
            "range": f"largest |value| {figures['absmax']:.3g} leaves under 2x headroom below {low}'s {limit:.3g}",
            "underflow": f"{figures['underflow']:.2%} of the non-zero values became 0 in {low} "
                         f"(threshold {self.config.threshold:g})",
            "signal": f"signal error {figures['error']:.3g} > {SIGNAL_FACTOR:g} x threshold "
                      f"{self.config.threshold:g} (relative error only {figures['relative']:.3g})",
            "error": f"relative error {figures['relative']:.3g} > threshold {self.config.threshold:g}",
        }[reason]

    # ---- reports ----------------------------------------------------------------------------------
    def layer_map(self) -> dict[str, str]:
        if not self.enabled:
            return {name: "fp32" for name in self.layers}
        return {name: "fp32" if name in self.fp32_layers else self.low_name for name in self.layers}

    def low_flops_share(self) -> float:
        total = sum(self.flops.values())
        if not self.enabled or total == 0:
            return 0.0
        return sum(f for name, f in self.flops.items() if name not in self.fp32_layers) / total

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "low_dtype": self.low_name if self.enabled else None,
            "layers": self.layer_map(), "low_precision_flops_share": self.low_flops_share(),
            "decisions": self.decisions[-500:], "scale_events": self.scale_events[-500:],
            "loss_scale": self.scaler.get_scale() if self.scaler.is_enabled() else None,
            "probes": self.probes, "probe_seconds": self.probe_seconds, "last_errors": self.last_errors,
            "last_probe": self.last_probe, "error_history": self.error_history, "threshold": self.config.threshold,
        }

    # ---- checkpoint state (JSON only) ------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"fp32_layers": sorted(self.fp32_layers), "calm": self._calm, "decisions": self.decisions[-500:],
                "error_history": self.error_history,
                "scale_events": self.scale_events[-500:], "probes": self.probes,
                "scaler": {k: float(v) if isinstance(v, (int, float)) else v
                           for k, v in self.scaler.state_dict().items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.fp32_layers = set(state.get("fp32_layers", [])) & set(self.layers)
        self._calm = {k: int(v) for k, v in state.get("calm", {}).items()}
        self.decisions = list(state.get("decisions", []))
        self.error_history = list(state.get("error_history", []))
        self.scale_events = list(state.get("scale_events", []))
        self.probes = int(state.get("probes", 0))
        scaler = state.get("scaler") or {}
        if self.scaler.is_enabled() and scaler:
            scaler = dict(scaler)
            scaler["_growth_tracker"] = int(scaler.get("_growth_tracker", 0))
            scaler["growth_interval"] = int(scaler.get("growth_interval", 2000))
            self.scaler.load_state_dict(scaler)


def _to_fp32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float32:
        return value.float()
    return value


def _capture(name: str, into: dict[str, tuple[tuple[Any, ...], Any]]) -> Callable[..., None]:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        into[name] = (tuple(_to_fp32(a) for a in args), output)
    return hook


@contextlib.contextmanager
def count_saved_bytes(model: nn.Module) -> Iterator[dict[str, int]]:
    """Count the activation bytes autograd saves for backward inside the block. Parameters are
    not activations; nor are the low-precision copies autocast makes of them (a saved tensor of
    a parameter's shape, or its transpose, in another dtype): those go to ``weight_copy_bytes``.
    Works on every device."""
    params = {p.data_ptr() for p in model.parameters()}
    shapes = {tuple(p.shape) for p in model.parameters()} | {tuple(p.shape)[::-1] for p in model.parameters()}
    seen: set[tuple[int, int]] = set()
    counter = {"bytes": 0, "tensors": 0, "weight_copy_bytes": 0}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        key = (tensor.data_ptr(), tensor.numel())
        if tensor.data_ptr() in params or key in seen:
            return tensor
        seen.add(key)
        size = tensor.numel() * tensor.element_size()
        if tensor.dtype != torch.float32 and tuple(tensor.shape) in shapes:
            counter["weight_copy_bytes"] += size
        else:
            counter["bytes"] += size
            counter["tensors"] += 1
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield counter
