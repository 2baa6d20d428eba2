"""One device layer for CUDA (NVIDIA and ROCm), Apple MPS, Intel XPU and CPU.

The same run config works everywhere: ``auto`` picks the best accelerator present.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # cuda / mps / xpu / cpu (ROCm reports as cuda)
    count: int
    memory_bytes: int  # of one device; 0 when unknown
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "memory_bytes": self.memory_bytes, "name": self.name}


def _xpu() -> Any:
    return getattr(torch, "xpu", None)


def available() -> list[DeviceInfo]:
    """The accelerators this process can use, best first; CPU is always last."""
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        flavour = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
        found.append(DeviceInfo("cuda", torch.cuda.device_count(), int(props.total_memory), f"{flavour} {props.name}"))
    xpu = _xpu()
    if xpu is not None and xpu.is_available():
        props = xpu.get_device_properties(0)
        found.append(DeviceInfo("xpu", xpu.device_count(), int(getattr(props, "total_memory", 0)), str(props.name)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", 1, int(_system_memory()), "Apple MPS"))
    found.append(DeviceInfo("cpu", 1, int(_system_memory()), f"CPU ({os.cpu_count()} cores)"))
    return found


def _system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def device_slots(kind: str, cpu_slots: int = 0) -> list[tuple[int, str]]:
    """``(index, key)`` for each device of ``kind`` a training can hold exclusively: the torch
    index in this process and a key naming the physical device (a CUDA GPU's UUID, so two
    workers with different ``CUDA_VISIBLE_DEVICES`` still agree). The CPU is shared by default;
    ``cpu_slots`` > 0 makes it that many exclusive slots."""
    if kind == "cuda" and torch.cuda.is_available():
        found = []
        for index in range(torch.cuda.device_count()):
            uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
            found.append((index, f"cuda:{uuid}" if uuid else f"cuda:{index}"))
        return found
    if kind == "xpu" and _xpu() is not None and _xpu().is_available():
        return [(index, f"xpu:{index}") for index in range(_xpu().device_count())]
    if kind == "mps":
        return [(0, "mps:0")]
    if kind == "cpu":
        return [(0, f"cpu:{slot}") for slot in range(cpu_slots)]
    return []


def resolve(kind: str = "auto", index: int = 0) -> torch.device:
    """The torch device for a requested kind; raises ``ValueError`` when it is not present."""
    present = {info.kind: info for info in available()}
    if kind == "auto":
        kind = next(iter(present))
    if kind not in present:
        raise ValueError(f"device {kind!r} is not available here (present: {', '.join(present)})")
    return torch.device(kind if kind in ("cpu", "mps") else f"{kind}:{index}")


def autocast_type(device: torch.device) -> str:
    return device.type


def supports_scaler(device: torch.device) -> bool:
    return device.type in ("cuda", "xpu", "cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "xpu":
        _xpu().synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def set_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_device(device)
    elif device.type == "xpu":
        _xpu().set_device(device)
