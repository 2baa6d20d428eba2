"""How a rank wraps its model, inspected through DDP's own logging data on a one-rank gloo group
in this process: the bucket policy of ``overlap``, the compression hooks, the batch-norm swap."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.distributed as dist
from torch import nn

from pipelines.training import ddp_batchnorm, ddp_wrap
from pipelines.training.config import ConfigError, DistributedConfig, parse_config


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    store = tmp_path_factory.mktemp("pg") / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    # 6.3 MB of fp32 parameters: more than DDP's 1 MiB first bucket, so plain DDP makes several.
    return nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))


def _steps(wrapped: nn.Module, steps: int = 3) -> None:
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.01)
    for _ in range(steps):  # DDP rebuilds its buckets after the first step, in gradient order
        optimizer.zero_grad()
        wrapped(torch.randn(8, 512)).square().mean().backward()
        optimizer.step()


@pytest.mark.usefixtures("group")
def test_plain_ddp_overlaps_with_several_buckets() -> None:
    wrapped = ddp_wrap.wrap(_mlp(), torch.device("cpu"), DistributedConfig(overlap=True))
    _steps(wrapped)
    found = ddp_wrap.describe(wrapped)
    assert found["buckets"] >= 2 and len(found["bucket_bytes"]) == found["buckets"]
    assert found["comm_hook"] == ""


@pytest.mark.usefixtures("group")
def test_no_overlap_is_one_bucket_larger_than_the_model() -> None:
    model = _mlp()
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    wrapped = ddp_wrap.wrap(model, torch.device("cpu"), DistributedConfig(overlap=False))
    _steps(wrapped)
    found = ddp_wrap.describe(wrapped)
    assert found["buckets"] == 1 and found["bucket_bytes"] == [model_bytes]
    assert wrapped._get_ddp_logging_data()["bucket_cap_bytes"] > model_bytes
    assert "one gradient bucket" in ddp_wrap.summary(wrapped, DistributedConfig(overlap=False))


@pytest.mark.usefixtures("group")
@pytest.mark.parametrize(("compression", "hook"), [
    ("fp16", "fp16_compress_hook"), ("bf16", "bf16_compress_hook"), ("powersgd", "powerSGD_hook")])
def test_compression_registers_its_ddp_hook(compression: str, hook: str) -> None:
    reference = _mlp()
    wrapped = ddp_wrap.wrap(_mlp(), torch.device("cpu"), DistributedConfig(compression=compression))
    _steps(wrapped, ddp_wrap.POWERSGD_WARMUP_STEPS + 2)
    found = ddp_wrap.describe(wrapped)
    assert hook in found["comm_hook"]
    # PowerSGD chains collectives in future callbacks, which gloo completes on several threads:
    # one bucket keeps every rank issuing them in the same order.
    assert (found["buckets"] == 1) is (compression == "powersgd"), found
    moved = sum((a - b).abs().sum().item() for a, b in zip(wrapped.module.parameters(), reference.parameters(),
                                                           strict=True))
    assert moved > 0  # the hook's future fed the optimizer real gradients


def test_compression_is_validated_naming_the_field() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_config({"distributed": {"compression": "zip"}})
    assert bad.value.field == "config.distributed.compression"
    with pytest.raises(ConfigError) as bad:
        parse_config({"distributed": {"compression": "powersgd", "powersgd_rank": 0}})
    assert bad.value.field == "config.distributed.powersgd_rank"


def test_sync_batchnorm_defaults_to_whether_the_graph_has_batch_norm() -> None:
    with_bn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    without = nn.Sequential(nn.Conv2d(1, 4, 3))
    assert ddp_wrap.sync_batchnorm_on(with_bn, DistributedConfig())
    assert not ddp_wrap.sync_batchnorm_on(without, DistributedConfig())
    assert not ddp_wrap.sync_batchnorm_on(with_bn, DistributedConfig(sync_batchnorm=False))


def test_convert_keeps_parameters_buffers_and_state_dict_keys() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(4)))
    keys, weight, mean = list(model.state_dict()), model[1].weight, model[1].running_mean
    converted = ddp_batchnorm.convert(model, torch.device("cpu"))
    found = dict(converted.named_modules())
    assert isinstance(found["1"], ddp_batchnorm.GlobalBatchNorm)
    assert isinstance(found["2.0"], ddp_batchnorm.GlobalBatchNorm)
    assert list(converted.state_dict()) == keys
    assert found["1"].weight is weight and found["1"].running_mean is mean


@pytest.mark.usefixtures("group")
def test_one_rank_global_batch_norm_is_plain_batch_norm() -> None:
    torch.manual_seed(1)
    plain = nn.BatchNorm2d(3)
    synced = ddp_batchnorm.convert(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cpu")).get_submodule("0")
    x = torch.randn(4, 3, 5, 5) * 3 + 1
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)


def _batches(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(8, 512, generator=generator) for _ in range(count)]


def _train(wrapped: nn.Module, optimizer: torch.optim.Optimizer, batches: list[torch.Tensor]) -> None:
    for batch in batches:
        optimizer.zero_grad()
        wrapped(batch).square().mean().backward()
        optimizer.step()


@pytest.mark.usefixtures("group")
def test_powersgd_state_is_restored_in_the_resumed_ddp_bucket_order() -> None:
    """A resumed DDP takes its first step with its initial buckets (parameters in model order); the
    state was saved from the rebuilt ones (gradient order). Saved per parameter, the error feedback,
    P and Q are laid out again in the new order, so the first resumed step continues the
    uninterrupted run's PowerSGD state: equal to float rounding (the gradients sit at other offsets
    of the bucket, which changes the matrix products' last bits), where a fresh state would be off
    by the whole error feedback."""
    settings = DistributedConfig(compression="powersgd", overlap=False)
    batches = _batches(ddp_wrap.POWERSGD_WARMUP_STEPS + 6)
    cut = ddp_wrap.POWERSGD_WARMUP_STEPS + 4

    def fresh() -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
        model = _mlp()
        wrapped = ddp_wrap.wrap(model, torch.device("cpu"), settings)
        return model, wrapped, torch.optim.SGD(model.parameters(), lr=0.01)

    model, wrapped, optimizer = fresh()
    _train(wrapped, optimizer, batches[:cut])
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    saved = ddp_wrap.powersgd_state_dict(ddp_wrap.powersgd_state(wrapped))  # type: ignore[arg-type]
    assert set(saved["tensors"]) >= {"error.0.weight", "p.2.weight", "q.4.weight"}
    _train(wrapped, optimizer, batches[cut:cut + 1])
    straight = ddp_wrap.powersgd_state_dict(ddp_wrap.powersgd_state(wrapped))  # type: ignore[arg-type]

    def resumed(restore: bool) -> dict:
        model, wrapped, optimizer = fresh()
        model.load_state_dict(weights)
        if restore:
            ddp_wrap.restore_powersgd(wrapped, saved, torch.device("cpu"))
        _train(wrapped, optimizer, batches[cut:cut + 1])
        return ddp_wrap.powersgd_state_dict(ddp_wrap.powersgd_state(wrapped))  # type: ignore[arg-type]

    def gap(a: dict, b: dict) -> float:
        return max((a["tensors"][k] - b["tensors"].get(k, torch.zeros_like(a["tensors"][k]))).abs().max().item()
                   for k in a["tensors"] if k.startswith("error."))

    restored = resumed(restore=True)
    assert restored["meta"]["iter"] == straight["meta"]["iter"] == cut + 1
    assert restored["meta"]["rng"] == straight["meta"]["rng"]
    assert gap(straight, restored) < 1e-6, gap(straight, restored)
    afresh = resumed(restore=False)
    assert afresh["meta"]["iter"] == 1  # a fresh state replays the exact warm-up
    assert gap(straight, afresh) > 1e-3
