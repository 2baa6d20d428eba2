"""Training memory as the allocator sees it, and how each figure was measured.

``peak_bytes`` is the most memory a training step held at once: weights, gradients, optimizer
state, the batch, the activations kept for backward and autocast's low-precision weight copies,
everything the allocator had handed out.

- On CUDA it is ``torch.cuda.max_memory_allocated`` over the measured phase (the peak statistics
  are reset when it starts): ``peak_bytes_method = "cuda.max_memory_allocated"``.
- On a CPU there is no allocator counter, so the step runs under ``torch.profiler`` with
  ``profile_memory=True``: every allocation and free inside it is an event with a signed byte
  count. The live bytes at the start (the model's parameters and gradients, the optimizer's state
  and the batch, counted once per storage) plus the running sum of those events, at its highest, is
  the peak: ``peak_bytes_method = "profiler.cpu_live_bytes"``.

``saved_tensor_bytes`` (``precision.count_saved_bytes``) is another figure: only the activations
autograd saves for backward. It is kept under its own name.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

CUDA_METHOD = "cuda.max_memory_allocated"
CPU_METHOD = "profiler.cpu_live_bytes"
# The profiler records no free of a block allocated before it started: the old gradients that
# ``zero_grad(set_to_none=True)`` drops inside a measured step. Their bytes are taken off the
# running sum where this marker (a ``record_function`` around the zero_grad) starts.
GRADS_FREED = "vmb.grads_freed"


def method_for(device: torch.device) -> str | None:
    """How ``peak_bytes`` is measured on ``device`` (None: not measured there)."""
    return {"cuda": CUDA_METHOD, "cpu": CPU_METHOD}.get(device.type)


def live_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
               extra: Iterable[torch.Tensor] = ()) -> int:
    """Bytes held now by the model's parameters and gradients, the optimizer's state tensors and
    ``extra`` tensors, each storage counted once."""
    tensors: list[torch.Tensor] = []
    for p in model.parameters():
        tensors.append(p)
        if p.grad is not None:
            tensors.append(p.grad)
    tensors += list(model.buffers())
    if optimizer is not None:
        for state in optimizer.state.values():
            tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    tensors += list(extra)
    seen: set[int] = set()
    total = 0
    for t in tensors:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key and key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


@contextlib.contextmanager
def measure_peak(device: torch.device, start_bytes: int = 0, grads_freed: int = 0) -> Iterator[dict[str, Any]]:
    """Measure the block's peak memory into the yielded dict: ``peak_bytes`` and
    ``peak_bytes_method`` (None on devices without a counter). ``start_bytes`` is what is live
    when the block starts (see ``live_bytes``) and ``grads_freed`` the gradient bytes it drops
    inside a ``record_function(GRADS_FREED)``; both are needed on the CPU only (CUDA's counter
    knows)."""
    found: dict[str, Any] = {"peak_bytes": None, "peak_bytes_method": method_for(device)}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield found
        torch.cuda.synchronize(device)
        found["peak_bytes"] = int(torch.cuda.max_memory_allocated(device))
        return
    if device.type != "cpu":
        yield found
        return
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        yield found
    found["peak_bytes"] = start_bytes + running_peak(prof, grads_freed)


def running_peak(prof: Any, grads_freed: int = 0) -> int:
    """The highest running sum of the CPU allocation (+) and free (-) events a profiler recorded,
    with ``grads_freed`` taken off where the ``GRADS_FREED`` marker starts."""
    changes: list[tuple[int, int]] = []
    for event in prof.profiler.kineto_results.events():
        if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU:
            changes.append((event.start_ns(), int(event.nbytes())))
        elif event.name() == GRADS_FREED and grads_freed:
            changes.append((event.start_ns(), -grads_freed))
    changes.sort(key=lambda change: change[0])
    live = peak = 0
    for _at, nbytes in changes:
        live += nbytes
        peak = max(peak, live)
    return peak


def grad_bytes(model: nn.Module) -> int:
    """Bytes of the gradients the model holds now."""
    return sum(p.grad.untyped_storage().nbytes() for p in model.parameters() if p.grad is not None)


def measure_training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Any,
                          optimizer: torch.optim.Optimizer, autocast: Any, device: torch.device) -> dict[str, Any]:
    """Peak memory of one training step as the engine runs it (forward and loss under
    ``autocast()``, zero_grad, backward, optimizer step), measured on the second of two steps so
    that the gradients and the optimizer's state exist, as they do for every step but the first."""
    measured: dict[str, Any] = {}
    for attempt in range(2):
        start, grads = live_bytes(model, optimizer, (x, y)), grad_bytes(model)
        context: contextlib.AbstractContextManager[dict[str, Any]] = (
            measure_peak(device, start, grads) if attempt else contextlib.nullcontext({}))
        with context as found:
            measured = found
            with autocast():
                loss = loss_fn(model(x), y)
            with torch.profiler.record_function(GRADS_FREED):
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            del loss
    return measured
