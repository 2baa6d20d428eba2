"""Loaded models and the per-process cache that holds them.

A serving folder holds ``card.json`` and either ``model.onnx`` (run by ONNX Runtime: what a
deployment prepares, and what int8 quantization writes) or a native bundle (``graph.json`` +
``weights.safetensors``, run by PyTorch). Nothing is unpickled. Both runtimes are safe to call from
several threads at once, so one loaded model serves every request of its process.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from pipelines.export.onnx_export import check_external_data
from pipelines.export.package import ONNX_FILE, load_package, read_card


class LoadedModel(Protocol):
    card: dict[str, Any]
    platform: str

    def infer(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Outputs in the card's order for inputs in the card's order (batch first)."""


def onnx_session(path: Path, *, threads: int = 0, spin: bool = True) -> Any:
    """An ONNX Runtime CPU session, after checking the file's external data stays in its folder.
    ``spin=False``: idle intra-op threads sleep instead of spinning (see ``OnnxModel``)."""
    import onnxruntime as ort

    check_external_data(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxModel:
    platform = "onnxruntime_onnx"

    def __init__(self, path: Path, card: dict[str, Any], threads: int = 0) -> None:
        self.card = card
        # A serving process shares its cores with other workers and requests: idle intra-op threads
        # sleep rather than spin between calls (spinning halved a 1 ms model's throughput with
        # two workers on two cores; see bench/compress_bench.py).
        self.session = onnx_session(path, threads=threads, spin=False)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def infer(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        feeds = dict(zip(self.input_names, arrays, strict=True))
        return [np.asarray(out) for out in self.session.run(None, feeds)]


class TorchModel:
    platform = "pytorch_graph"

    def __init__(self, folder: Path) -> None:
        package = load_package(folder)
        self.card = package.card
        self.module = package.serving_module()  # a regressor answers in the data's units

    def infer(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            out = self.module(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
        outs = out if isinstance(out, tuple) else (out,)
        return [o.numpy() for o in outs]


def load_model(folder: Path, threads: int = 0) -> LoadedModel:
    """The model in a serving folder: ONNX when ``model.onnx`` is there (``threads`` intra-op
    threads; 0: ONNX Runtime's default, one per core), else the native bundle.
    Raises ``PackageError`` for a folder that cannot be read."""
    card = read_card(folder)
    if (folder / ONNX_FILE).is_file():
        return OnnxModel(folder / ONNX_FILE, card, threads)
    return TorchModel(folder)


class ModelCache:
    """Models loaded once per process, by key (a deployment and its version). Thread-safe: two
    first requests for one model load it once."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, folder: Path, threads: int = 0) -> LoadedModel:
        model = self._models.get(key)
        if model is not None:
            return model
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            model = self._models.get(key)
            if model is None:
                model = load_model(folder, threads)
                self._models[key] = model
        return model

    def peek(self, key: str) -> LoadedModel | None:
        """The model if it is loaded already (never loads; a dict read, safe without the lock)."""
        return self._models.get(key)

    def evict(self, prefix: str) -> int:
        """Drop every model whose key starts with ``prefix``; returns how many."""
        with self._lock:
            keys = [k for k in self._models if k.startswith(prefix)]
            for key in keys:
                del self._models[key]
                self._loading.pop(key, None)
        return len(keys)

    def __contains__(self, key: str) -> bool:
        return key in self._models


models = ModelCache()
