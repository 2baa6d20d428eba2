"""The device layer's exclusive slots: what a training leases (one training per GPU)."""
from __future__ import annotations

import torch

from pipelines.training import devices


def test_the_cpu_is_shared_unless_slots_are_asked_for() -> None:
    assert devices.device_slots("cpu") == []
    assert devices.device_slots("cpu", cpu_slots=2) == [(0, "cpu:0"), (0, "cpu:1")]


def test_absent_accelerators_have_no_slots() -> None:
    if not torch.cuda.is_available():
        assert devices.device_slots("cuda") == []
    assert devices.device_slots("tpu") == []


def test_each_cuda_gpu_is_one_slot_named_by_its_uuid() -> None:
    slots = devices.device_slots("cuda")
    assert [index for index, _key in slots] == list(range(torch.cuda.device_count() if torch.cuda.is_available() else 0))
    assert len({key for _index, key in slots}) == len(slots)
