"""One-click fixes: the vocabulary of ``Issue.fix``, how the validator checks a fix before it
offers one, and ``apply_fix``, which applies a fix to a document as the canvas does.

A fix is one of:

- ``{"set": {param: value, ...}}``: change these parameters of the node at fault
  (``{"set": {"padding": "same"}}``);
- ``{"insert": type, "params": {...}}``: put a new layer of ``type`` (its defaults, overridden
  by ``params`` when given) in front of the node, on the edge into the port at fault (the
  issue's ``port``, else the node's first input). Every edge into that port is rewired to the
  new layer's inputs in order, so ``{"insert": "add"}`` joins two edges fed into one port;
- ``{"type": type}``: change the node's type, keeping the parameters the new type knows.

The frontend mirrors ``apply_fix`` in ``frontend/src/editor/model/edits.ts::applyFix``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Issue
from .registry import LayerType, Shape, ShapeError, registry


# ---- what the validator offers ---------------------------------------------------------
def remedy(layer: LayerType, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Any] | None:
    """The first of ``layer.remedies`` under which its shape rule accepts ``in_shapes``, as a
    ``{"set": ...}`` fix; ``None`` when none does."""
    try:
        candidates = layer.remedies(params, in_shapes)
    except Exception:  # noqa: BLE001  (a plugin's bug costs its fix, not the validation)
        return None
    for change in candidates:
        new = _with(layer, params, change)
        if new is not None and _accepts(layer, new, in_shapes):
            return {"set": change}
    return None


def checked(
    fix: dict[str, Any] | None,
    layer: LayerType,
    params: BaseModel,
    in_shapes: Mapping[str, Shape],
    in_dtypes: Mapping[str, str],
    *,
    port: str | None,
    code: str,
) -> dict[str, Any] | None:
    """``fix`` if applying it makes the node's own shape rule accept its inputs (and drops a
    warning of this ``code``), else ``None``: the canvas never offers a fix that does not work.
    Only ``set`` and ``insert`` fixes are checked here; they are the ones shape rules give."""
    if not fix:
        return None
    shapes, dtypes, new = dict(in_shapes), dict(in_dtypes), params
    if isinstance(fix.get("set"), dict):
        changed = _with(layer, params, fix["set"])
        if changed is None:
            return None
        new = changed
    elif isinstance(fix.get("insert"), str):
        port = port if port in in_shapes else next(iter(in_shapes), None)
        fed = _through(fix["insert"], fix.get("params") or {}, in_shapes, in_dtypes, port)
        if port is None or fed is None:
            return None
        shapes[port], dtypes[port] = fed
    else:
        return None
    try:
        layer.output_dtypes(new, dtypes)
        layer.infer(new, shapes)
        if any(note.code == code for note in layer.advice(new, shapes)):
            return None
    except Exception:  # noqa: BLE001  (a ShapeError, or a plugin's bug: either way, no fix)
        return None
    return fix


def _with(layer: LayerType, params: BaseModel, change: Mapping[str, Any]) -> BaseModel | None:
    try:
        return layer.parse_params({**params.model_dump(), **change})
    except (ValidationError, ValueError, TypeError):
        return None


def _accepts(layer: LayerType, params: BaseModel, in_shapes: Mapping[str, Shape]) -> bool:
    try:
        layer.infer(params, in_shapes)
    except Exception:  # noqa: BLE001
        return False
    return True


def _through(
    type_id: str,
    raw: Mapping[str, Any],
    in_shapes: Mapping[str, Shape],
    in_dtypes: Mapping[str, str],
    port: str | None,
) -> tuple[Shape, str] | None:
    """The shape and dtype that leave an inserted ``type_id`` layer fed with ``port``'s tensor."""
    inserted = registry.get(type_id)
    if inserted is None or port is None or port not in in_shapes:
        return None
    try:
        params = inserted.parse_params(raw)
        ins, outs = inserted.input_ports(params), inserted.output_ports(params)
        if not ins or not outs:
            return None
        dtypes = inserted.output_dtypes(params, {ins[0]: in_dtypes.get(port, "float32")})
        shapes = inserted.infer(params, {ins[0]: in_shapes[port]})
        return tuple(shapes[outs[0]]), dtypes.get(outs[0], "float32")
    except (ValidationError, ShapeError, ValueError, KeyError):
        return None


# ---- applying a fix to a document ------------------------------------------------------
class FixNotApplicable(ValueError):
    """The fix names a node, port or layer type the document does not have."""


def apply_fix(document: Mapping[str, Any], issue: Issue | Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` (a graph document as JSON) with ``issue``'s fix applied, exactly
    as the canvas applies it. Raises ``FixNotApplicable`` when it cannot be."""
    found = issue.to_dict() if isinstance(issue, Issue) else dict(issue)
    fix, node_id, port = found.get("fix") or {}, found.get("node_id"), found.get("port")
    doc = copy.deepcopy(dict(document))
    nodes: list[dict[str, Any]] = doc.setdefault("nodes", [])
    node = next((n for n in nodes if n.get("id") == node_id), None)
    if node is None:
        raise FixNotApplicable(f"the fix names no node of the document ({node_id!r})")
    if isinstance(fix.get("set"), dict):
        node["params"] = {**node.get("params", {}), **fix["set"]}
    elif isinstance(fix.get("insert"), str):
        _insert(doc, node, port, fix["insert"], dict(fix.get("params") or {}))
    elif isinstance(fix.get("type"), str):
        spec = registry.get(fix["type"])
        if spec is None:
            raise FixNotApplicable(f"there is no layer type {fix['type']!r}")
        known = spec.Params.model_fields
        node["type"] = fix["type"]
        node["params"] = {k: v for k, v in node.get("params", {}).items() if k in known}
    else:
        raise FixNotApplicable(f"unknown fix {fix!r}")
    return doc


def next_node_id(type_id: str, taken: set[str]) -> str:
    """``conv2d_1``, ``conv2d_2``...: the first free id, as the canvas names a new node."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", type_id)
    base = re.sub(r"^(\d)", r"_\1", base) or "node"
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _insert(
    doc: dict[str, Any], node: dict[str, Any], port: str | None, type_id: str, params: dict[str, Any]
) -> None:
    spec, target = registry.get(type_id), registry.get(node.get("type", ""))
    if spec is None:
        raise FixNotApplicable(f"there is no layer type {type_id!r}")
    if port is None:
        ports = target.input_ports(target.parse_params(node.get("params", {}))) if target else ["in"]
        port = ports[0] if ports else "in"
    parsed = spec.parse_params(params)
    ins, outs = spec.input_ports(parsed), spec.output_ports(parsed)
    edges: list[dict[str, Any]] = doc.setdefault("edges", [])
    feeding = [e for e in edges if e.get("target") == node["id"] and e.get("target_port", "in") == port]
    new_id = next_node_id(type_id, {str(n.get("id")) for n in doc["nodes"]})
    position = dict(node.get("position") or {"x": 0, "y": 0})
    doc["nodes"].append({"id": new_id, "type": type_id, "params": params, "position": position})
    for edge, new_port in zip(feeding, ins, strict=False):
        edge["target"], edge["target_port"] = new_id, new_port
    edges.append({"source": new_id, "source_port": outs[0], "target": node["id"], "target_port": port})
