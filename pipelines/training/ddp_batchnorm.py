"""Batch norm over the global batch of a data-parallel run, on every device.

Without it, each rank normalises by its own B/N samples, so N ranks do not take the step one
process takes at batch B. ``torch.nn.SyncBatchNorm`` fixes that with fused kernels, but only on
CUDA, XPU and HPU (on a CPU it raises, and DDP refuses it). ``convert`` uses torch's conversion
wherever torch supports the device; elsewhere (gloo on CPUs) ``GlobalBatchNorm`` computes the same
statistics with two differentiable all-reduces (``torch.distributed.nn.functional.all_reduce``),
whose backward all-reduces the gradients of the sums, so every rank gets the input gradient a
single process at the global batch gets.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_reduce
from torch.nn.modules.batchnorm import _BatchNorm


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(module, _BatchNorm) for module in model.modules())


def convert(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every ``BatchNorm*d`` replaced by one that normalises over the global batch,
    sharing its parameters and buffers (the state-dict keys do not change): torch's
    ``SyncBatchNorm`` where torch supports ``device``, else ``GlobalBatchNorm``. Returns the
    (possibly new) root module."""
    if device.type in _torch_devices():
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_global(model)


def is_synced(module: nn.Module) -> bool:
    return isinstance(module, nn.SyncBatchNorm | GlobalBatchNorm)


def _torch_devices() -> tuple[str, ...]:
    return ("cuda", "hpu", "xpu", torch._C._get_privateuse1_backend_name())


def _to_global(module: nn.Module) -> nn.Module:
    converted = module
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                    module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        converted.running_mean, converted.running_var = module.running_mean, module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
    for name, child in module.named_children():
        converted.add_module(name, _to_global(child))
    return converted


class GlobalBatchNorm(_BatchNorm):
    """Batch norm whose training statistics span every rank of the default process group, on any
    device. It is not a ``torch.nn.SyncBatchNorm``: DDP refuses those on a CPU."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self._syncs():
            return super().forward(input)
        self._check_input_dim(input)
        return _global_batch_norm(self, input)

    def _syncs(self) -> bool:
        # As torch: statistics are shared in training only, and only with someone to share them with.
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return False
        return dist.get_world_size() > 1


def _global_batch_norm(bn: GlobalBatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Normalise ``x`` (N, C, ...) by the mean and biased variance over every rank's batch, two-pass
    for accuracy; updates the running statistics as ``F.batch_norm`` does (unbiased variance)."""
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    values = x.float()
    count = torch.tensor([values.numel() / values.size(1)], dtype=values.dtype, device=values.device)
    sums = all_reduce(torch.cat([values.sum(dims), count]))
    n = sums[-1]
    mean = sums[:-1] / n
    centred = values - mean.view(shape)
    var = all_reduce((centred * centred).sum(dims)) / n
    out = centred * torch.rsqrt(var + bn.eps).view(shape)
    if bn.affine:
        out = out * bn.weight.view(shape) + bn.bias.view(shape)
    if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
        _update_running(bn, mean.detach(), var.detach() * n / (n - 1))
    return out.to(x.dtype)


@torch.no_grad()
def _update_running(bn: GlobalBatchNorm, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
    assert bn.running_mean is not None and bn.running_var is not None and bn.num_batches_tracked is not None
    bn.num_batches_tracked.add_(1)
    factor = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    bn.running_mean.mul_(1 - factor).add_(mean.to(bn.running_mean.dtype), alpha=factor)
    bn.running_var.mul_(1 - factor).add_(unbiased_var.to(bn.running_var.dtype), alpha=factor)
