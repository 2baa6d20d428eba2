"""Pretrained torchvision weights a user uploads: read without running any of the file's code,
checked tensor by tensor against the architecture, and carried onto the graph that the importer
makes of it. Pure Python and PyTorch, no Django.

A ``.safetensors`` file is read with safetensors; anything else with
``torch.load(weights_only=True)``, whose unpickler builds tensors and plain containers only and
refuses any other class (so a pickle with a ``__reduce__`` payload is refused, not run).
"""
from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

# Keys of a checkpoint that hold the state dict (torchvision's reference scripts use "model").
WRAPPER_KEYS = ("state_dict", "model")
# Auxiliary heads only run while training; the imported graph has none, so their tensors are left out.
AUXILIARY = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}
SHOWN = 8  # names listed per problem in a refusal


class WeightsFileError(ValueError):
    """A weights file that is refused. ``code`` is stable snake_case; the message names the file."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ImportedWeights:
    document: dict[str, Any]
    weights: dict[str, torch.Tensor]  # named as the compiled graph's state dict
    num_classes: int
    left_out: list[str] = field(default_factory=list)  # auxiliary-head tensors not carried over


def read_state_dict(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    """The tensors of an uploaded weights file, by name. A checkpoint dict holding the state dict
    under ``state_dict`` or ``model`` is unwrapped, and a ``module.`` prefix on every name (saved
    from DataParallel) is dropped. Raises ``WeightsFileError`` naming ``filename``."""
    if filename.lower().endswith(".safetensors"):
        found: Any = _read_safetensors(data, filename)
    else:
        found = _read_checkpoint(data, filename)
    if isinstance(found, torch.Tensor):
        raise WeightsFileError("not_a_state_dict", f"{filename} holds one tensor, not a state dict of named tensors")
    if not isinstance(found, Mapping):
        raise WeightsFileError("not_a_state_dict", f"{filename} holds a {type(found).__name__}, not a state dict "
                                                   "of named tensors")
    for key in WRAPPER_KEYS:
        if isinstance(found.get(key), Mapping):
            found = found[key]
            break
    if not found:
        raise WeightsFileError("empty", f"{filename} holds no tensors")
    for name, value in found.items():
        if not isinstance(name, str):
            raise WeightsFileError("not_a_state_dict", f"{filename}: the key {name!r} is not a string")
        if not isinstance(value, torch.Tensor):
            raise WeightsFileError(
                "not_a_tensor", f"{filename}: {name!r} holds a {type(value).__name__}, not a tensor; give a "
                                f"state dict, or a checkpoint holding one under {' or '.join(WRAPPER_KEYS)}")
        if value.layout != torch.strided or value.is_quantized or value.is_meta or value.is_complex():
            raise WeightsFileError(
                "not_a_tensor", f"{filename}: {name!r} is a {_kind(value)} tensor; weights must be dense real "
                                "tensors with their data")
    state = dict(found)
    if all(name.startswith("module.") for name in state):
        state = {name.removeprefix("module."): value for name, value in state.items()}
    return state


def _kind(value: torch.Tensor) -> str:
    if value.layout != torch.strided:
        return f"{str(value.layout).removeprefix('torch.')} (not dense)"
    return "quantized" if value.is_quantized else "meta (no data)" if value.is_meta else "complex"


def _check_archive(data: bytes, filename: str) -> None:
    """``torch.save`` writes a zip whose entries are stored, never compressed: a compressed entry,
    or entries larger in all than the file, would only serve to inflate in memory (a zip bomb)."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return  # the legacy format, or not a checkpoint: torch.load says which
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise WeightsFileError("unreadable", f"{filename} is a damaged zip archive: {exc}") from exc
    compressed = [e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise WeightsFileError("unreadable", f"{filename} has compressed entries ({', '.join(compressed[:3])}); "
                                             "torch.save never compresses, so it was not inflated")
    if sum(e.file_size for e in entries) > len(data):
        raise WeightsFileError("unreadable", f"{filename} declares more data than it holds; it was not read")


def _read_safetensors(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as st_load

    try:
        return st_load(data)
    except Exception as exc:  # noqa: BLE001  (safetensors' own error types)
        raise WeightsFileError("unreadable", f"{filename} is not a readable safetensors file: {exc}") from exc


def _read_checkpoint(data: bytes, filename: str) -> Any:
    _check_archive(data, filename)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only's unpickler stops at the first class it does not allow, before building it.
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        reason = f"it names {found.group(1)}" if found else str(exc).split("WeightsUnpickler error:")[-1][:200]
        raise WeightsFileError(
            "unsafe_pickle", f"{filename} was refused: torch.load(weights_only=True) allows tensors and plain "
                             f"containers only, and this file needs more ({reason.strip()}); it was not run. "
                             "Save a plain state dict "
                             "(torch.save(model.state_dict(), path)) or a .safetensors file") from exc
    except Exception as exc:  # noqa: BLE001  (torch raises RuntimeError, EOFError, ValueError, ...)
        raise WeightsFileError("unreadable", f"{filename} is neither a PyTorch checkpoint nor safetensors: "
                                             f"{type(exc).__name__}: {str(exc)[:300]}") from exc


def head_classes(architecture: str, state: Mapping[str, torch.Tensor], input_size: int = 224) -> int | None:
    """The number of classes the weights' classifier head has, or None when the state dict does
    not hold the architecture's head. Found by building the model with two class counts and
    looking where the shapes differ: on the meta device (no memory, no compute) where the
    architecture's constructor allows it (RegNet's computes its widths from tensors)."""
    from builder.graph.templates import torchvision_model

    def shapes(classes: int) -> dict[str, torch.Size]:
        try:
            with torch.device("meta"):
                model = torchvision_model(architecture, classes, input_size)
        except NotImplementedError:
            model = torchvision_model(architecture, classes, input_size)
        return {name: tensor.shape for name, tensor in model.state_dict().items()}

    one, other = shapes(1000), shapes(7)
    for name, shape in one.items():
        if shape == other[name] or name not in state:
            continue
        axis = next(i for i, (a, b) in enumerate(zip(shape, other[name], strict=True)) if a != b)
        found = state[name].shape
        return int(found[axis]) if len(found) == len(shape) else None
    return None


def static_param_count(architecture: str, num_classes: int = 1000, input_size: int = 224) -> int | None:
    """The parameters of ``architecture`` built on the meta device (no memory, no compute), or
    None where its constructor needs real tensors (RegNet computes its widths from them).
    ``KeyError`` / ``InputSizeError`` come from ``torchvision_model``."""
    from builder.graph.templates import torchvision_model

    try:
        with torch.device("meta"):
            model = torchvision_model(architecture, num_classes, input_size)
    except NotImplementedError:
        return None
    return sum(p.numel() for p in model.parameters())


def import_weights(architecture: str, state: Mapping[str, torch.Tensor], *, filename: str,
                   num_classes: int | None = None, input_size: int = 224) -> ImportedWeights:
    """The graph of ``architecture`` (``num_classes``, default: the weights' head) for
    ``input_size`` images, and the weights carried onto it. Every tensor must fit by name and
    shape; ``WeightsFileError`` lists the missing, unexpected and wrongly shaped ones.
    ``KeyError`` / ``InputSizeError`` / ``UnsupportedModuleError`` come from the importer."""
    from builder.graph.importer import from_module
    from builder.graph.layout import layout_document
    from builder.graph.templates import torchvision_model

    if num_classes is None:
        num_classes = head_classes(architecture, state, input_size)
        if num_classes is None:
            raise WeightsFileError("mismatch", f"{filename} has no classifier head of {architecture}, so the "
                                               "number of classes is unknown; give num_classes")
    auxiliary = AUXILIARY.get(architecture, ())
    left_out = sorted(name for name in state if auxiliary and name.startswith(auxiliary))
    state = {name: value for name, value in state.items() if name not in left_out}
    model = torchvision_model(architecture, num_classes, input_size)
    check_fit(model.state_dict(), state, f"{filename} does not fit {architecture} with {num_classes} classes")
    try:
        model.load_state_dict(state)  # copies into the model's own dtypes (fp16 files become fp32)
    except RuntimeError as exc:  # a tensor that fits by name and shape but cannot be copied
        raise WeightsFileError("mismatch", f"{filename}: {str(exc)[:300]}") from exc
    document, weights = from_module(model.eval(), torch.zeros(1, 3, input_size, input_size), name=architecture)
    # laid out once, here, like every other import: the canvas opens the version as it is stored
    return ImportedWeights(layout_document(document), weights, num_classes, left_out)


def check_fit(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise ``WeightsFileError("mismatch", ...)`` unless ``found`` has exactly the names and
    shapes of ``expected``; the message starts with ``what`` and lists each kind of problem."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{name} {tuple(found[name].shape)} (needs {tuple(expected[name].shape)})"
             for name in sorted(set(expected) & set(found)) if found[name].shape != expected[name].shape]
    problems = [f"{label} ({len(names)}): {', '.join(names[:SHOWN])}{', ...' if len(names) > SHOWN else ''}"
                for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                if names]
    if problems:
        raise WeightsFileError("mismatch", f"{what}: {'; '.join(problems)}")
