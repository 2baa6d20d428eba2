"""Fine-tuning pieces with no database: loading starting weights leniently, freezing nodes, and
replacing a classifier's head when the new data has another number of classes."""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

WeightsSource = str | Path | Mapping[str, torch.Tensor]


class WeightsError(Exception):
    pass


def read_weights(source: WeightsSource, sha256: str = "") -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file (checked against ``sha256`` when given) or a tensor dict.
    Nothing is unpickled."""
    if isinstance(source, Mapping):
        return dict(source)
    from safetensors.torch import load as st_load

    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise WeightsError(f"the starting weights {Path(source).name} cannot be read: {exc}") from exc
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise WeightsError("the starting weights do not match their recorded SHA-256")
    return st_load(data)


def load_initial_weights(model: nn.Module, source: WeightsSource, *, sha256: str = "",
                         drop: Sequence[str] = ()) -> dict[str, list[str]]:
    """Copy the tensors of ``source`` that fit ``model`` (same name and shape) into it, leaving
    the rest as initialised. Tensors of nodes in ``drop`` are skipped. Returns the names
    ``loaded``, ``skipped`` (in the source, not loaded) and ``missing`` (in the model, not given)."""
    found = read_weights(source, sha256)
    own = model.state_dict()
    dropped = tuple(f"{node}." for node in drop)
    usable = {k: v for k, v in found.items()
              if k in own and tuple(v.shape) == tuple(own[k].shape) and not k.startswith(dropped)}
    model.load_state_dict(usable, strict=False)
    return {"loaded": sorted(usable), "skipped": sorted(set(found) - set(usable)),
            "missing": sorted(set(own) - set(usable))}


def freeze_nodes(model: nn.Module, node_ids: Sequence[str]) -> list[str]:
    """Stop training the parameters of the given nodes (submodules named by node id); returns the
    frozen parameter names. An unknown id raises ``WeightsError``."""
    modules = dict(model.named_children())
    frozen: list[str] = []
    for node_id in node_ids:
        if node_id not in modules:
            raise WeightsError(f"cannot freeze {node_id!r}: the model has no such node")
        for name, param in modules[node_id].named_parameters():
            param.requires_grad_(False)
            frozen.append(f"{node_id}.{name}")
    return frozen


def all_but(model: nn.Module, head: str) -> list[str]:
    """The ids of ``model``'s nodes that hold parameters, except ``head``: what "freeze all but the
    head" freezes (the Train form's shortcut does the same over the graph's layers)."""
    return [name for name, module in model.named_children()
            if name != head and next(module.parameters(), None) is not None]


def unknown_nodes(document: dict[str, Any], node_ids: Sequence[str]) -> list[tuple[int, str]]:
    """``(index, id)`` of each id in ``node_ids`` that is not a node of ``document``."""
    known = {node["id"] for node in document.get("nodes", [])}
    return [(i, node_id) for i, node_id in enumerate(node_ids) if node_id not in known]


def head_node(document: dict[str, Any], output_node: str) -> str | None:
    """The last linear layer before ``output_node``: the first ``linear`` node met walking the
    edges backwards from it (breadth first)."""
    nodes = {node["id"]: node for node in document.get("nodes", [])}
    sources: dict[str, list[str]] = {}
    for edge in document.get("edges", []):
        sources.setdefault(edge["target"], []).append(edge["source"])
    queue, seen = [output_node], {output_node}
    while queue:
        current = queue.pop(0)
        if nodes.get(current, {}).get("type") == "linear":
            return current
        for source in sources.get(current, []):
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return None


def replace_head(document: dict[str, Any], output_node: str, classes: int) -> tuple[dict[str, Any], str | None]:
    """A copy of ``document`` whose last linear layer has ``classes`` outputs, and that node's id
    (None, and the document unchanged, when it already has them or there is no linear layer)."""
    node_id = head_node(document, output_node)
    if node_id is None:
        return document, None
    changed = copy.deepcopy(document)
    node = next(n for n in changed["nodes"] if n["id"] == node_id)
    if int(node.get("params", {}).get("out_features", -1)) == classes:
        return document, None
    node.setdefault("params", {})["out_features"] = classes
    return changed, node_id
