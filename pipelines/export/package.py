"""A model as the compress, export and serving runtimes see it: a graph document, its weights and a
model card. Pure Python and PyTorch, no Django.

On disk a package is a folder (or a zip of it) holding ``graph.json``, ``weights.safetensors`` and
``card.json``. Reading one never unpickles anything: JSON and safetensors only.
"""
from __future__ import annotations

import copy
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

GRAPH_FILE = "graph.json"
WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "card.json"
ONNX_FILE = "model.onnx"
MAX_MEMBER_BYTES = 4 << 30


class PackageError(ValueError):
    """A package that cannot be read or does not fit its graph. ``code`` is stable snake_case."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ModelPackage:
    document: dict[str, Any]
    weights: dict[str, torch.Tensor]
    card: dict[str, Any] = field(default_factory=dict)

    def module(self) -> torch.nn.Module:
        """The compiled graph with these weights loaded (strictly), in eval mode."""
        from builder.graph import compile_graph

        model = compile_graph(self.document)
        missing, unexpected = model.load_state_dict(self.weights, strict=False)
        if missing or unexpected:
            raise PackageError("weights_mismatch", f"weights do not fit the graph: missing {sorted(missing)[:5]}, "
                                                   f"unexpected {sorted(unexpected)[:5]}")
        return model.eval()

    def serving_module(self) -> torch.nn.Module:
        """``module()`` followed by the card's ``target_transform`` inverse when it has one (a
        regressor trained on a scaled target): what exports and serving run, in the data's units.
        ``module()`` stays the bare network, for compression and fine-tuning."""
        from pipelines.datasets.targets import InverseTarget, TargetTransform

        module = self.module()
        transform = TargetTransform.from_dict(self.card.get("target_transform"))
        return InverseTarget(module, transform).eval() if transform is not None else module

    def with_card(self, **updates: Any) -> ModelPackage:
        return ModelPackage(self.document, self.weights, {**copy.deepcopy(self.card), **updates})


def input_contract(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The graph's inputs and outputs as ``{name, shape, datatype}`` with the batch as ``-1``
    (KServe v2 datatypes: ``FP32``, ``INT64``)."""
    from builder.graph import GraphError, validate

    report = validate(document, batch_size=1)
    if not report.ok:
        raise GraphError(report)

    def port(node_id: str, port_name: str) -> dict[str, Any]:
        info = report.nodes[node_id]
        shape = info.outputs[port_name]
        dtype = "INT64" if info.dtypes.get(port_name) == "int64" else "FP32"
        return {"shape": [-1, *shape[1:]], "datatype": dtype}

    inputs = []
    for node_id in report.inputs:
        first = next(iter(report.nodes[node_id].outputs))
        inputs.append({"name": node_id, **port(node_id, first)})
    outputs = []
    for ref in report.outputs:
        node_id, port_name = ref.split(":", 1)
        outputs.append({"name": node_id if len(report.outputs) == 1 else ref.replace(":", "_"),
                        **port(node_id, port_name)})
    return inputs, outputs


def make_card(document: dict[str, Any], *, name: str, task: str = "classification",
              classes: list[str] | None = None, preprocessing: dict[str, Any] | None = None,
              metrics: dict[str, Any] | None = None, dataset: dict[str, Any] | None = None,
              training_config: dict[str, Any] | None = None, lineage: list[dict[str, Any]] | None = None,
              ) -> dict[str, Any]:
    """A model card: what the model does and exactly what it takes and returns. A regressor trained
    on a scaled target (``preprocessing["target_transform"]``) gets a top-level ``target_transform``
    saying how its network's output maps to the data's units, and that every export and the
    serving runtime apply it (``ModelPackage.serving_module``)."""
    inputs, outputs = input_contract(document)
    for spec in inputs:
        spec["preprocessing"] = preprocessing or {}
    card = {
        "card_version": 1, "name": name, "task": task, "classes": list(classes or []),
        "inputs": inputs, "outputs": outputs, "metrics": metrics or {}, "dataset": dataset or {},
        "training_config": training_config or {}, "lineage": lineage or [], "format": "bundle",
    }
    transform = (preprocessing or {}).get("target_transform")
    if transform:
        card["target_transform"] = {**transform, "applied": TARGET_APPLIED}
    return card


# What a card says about where a regressor's target inverse happens.
TARGET_APPLIED = ("the network (graph.json + weights.safetensors) outputs the scaled target; the ONNX, "
                  "TorchScript and PyTorch-source exports and the serving runtime include the inverse, so their "
                  "outputs are in the data's units; metrics are in the data's units too")


def save_package(package: ModelPackage, folder: Path) -> Path:
    """Write the package's three files into ``folder`` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / GRAPH_FILE).write_text(json.dumps(package.document, indent=1))
    weights = {k: v.detach().cpu().contiguous() for k, v in package.weights.items()}
    (folder / WEIGHTS_FILE).write_bytes(st_save(weights))
    (folder / CARD_FILE).write_text(json.dumps({**package.card, "format": "bundle"}, indent=1))
    return folder


def load_package(folder: Path) -> ModelPackage:
    """Read a package folder written by ``save_package``. Raises ``PackageError``."""
    try:
        document = json.loads((folder / GRAPH_FILE).read_text())
        card = json.loads((folder / CARD_FILE).read_text())
        weights = st_load((folder / WEIGHTS_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise PackageError("missing_file", f"the package has no {Path(exc.filename).name}") from exc
    except Exception as exc:  # noqa: BLE001  (JSON, OS and safetensors' own error types)
        raise PackageError("unreadable", f"the package cannot be read: {exc}") from exc
    return ModelPackage(document, weights, card)


def read_card(folder: Path) -> dict[str, Any]:
    try:
        card: dict[str, Any] = json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise PackageError("missing_card", f"no readable {CARD_FILE}: {exc}") from exc
    return card


def package_from_zip(data: bytes) -> ModelPackage:
    """Read a native bundle zip (the export format) from memory. Raises ``PackageError``."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = {}
            for name in (GRAPH_FILE, WEIGHTS_FILE, CARD_FILE):
                info = zf.getinfo(name)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise PackageError("too_large", f"{name} is larger than {MAX_MEMBER_BYTES} bytes")
                members[name] = zf.read(info)
    except KeyError as exc:
        raise PackageError("missing_file", f"the bundle has no {exc.args[0]}") from exc
    except zipfile.BadZipFile as exc:
        raise PackageError("unreadable", f"not a zip file: {exc}") from exc
    try:
        return ModelPackage(json.loads(members[GRAPH_FILE]), st_load(members[WEIGHTS_FILE]),
                            json.loads(members[CARD_FILE]))
    except Exception as exc:  # noqa: BLE001  (JSON and safetensors' own error types)
        raise PackageError("unreadable", f"the bundle cannot be read: {exc}") from exc


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
