"""A top-to-bottom layered layout for graph documents that a program wrote (templates, imports).

The canvas reads positions from the document; a graph that arrives with them opens at once, with
no layout in the browser. ``layout_document`` places every node once, here, so an imported
DenseNet-121 is laid out when it is imported (a few milliseconds) and the version stores it.

The layout is a simple Sugiyama scheme: ranks by longest path from the inputs (a source that is
not an input, such as a learned token, sits just above its first consumer), an order within each
rank by barycenters of the nodes above, and x coordinates that follow the parents, spaced so
nodes never overlap. Ranks are rows: blocks that run one after another (ResNet stages, encoder
layers) occupy bands of rows of their own, which the canvas uses to fold them.
"""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

# Node boxes as the canvas draws them (CSS .layer-node), with room between them.
NODE_WIDTH = 220
COLUMN = NODE_WIDTH + 50
ROW = 130


def needs_layout(nodes: list[dict[str, Any]]) -> bool:
    """Whether some node has no position, or every node sits at one point (never placed)."""
    if any("position" not in n or n["position"] is None for n in nodes):
        return True
    points = {(n["position"].get("x"), n["position"].get("y")) for n in nodes}
    return len(nodes) > 1 and len(points) == 1


def _topological(ids: list[str], succs: dict[str, list[str]], preds: dict[str, list[str]]) -> list[str]:
    waiting = {i: len(preds[i]) for i in ids}
    ready = deque(i for i in ids if waiting[i] == 0)
    order: list[str] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for nxt in succs[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    placed = set(order)
    return order + [i for i in ids if i not in placed]  # a cycle (invalid graph) keeps document order


def _ranks(order: list[str], succs: dict[str, list[str]], preds: dict[str, list[str]]) -> dict[str, int]:
    rank: dict[str, int] = {}
    for node in order:
        rank[node] = max((rank[p] + 1 for p in preds[node] if p in rank), default=0)
    # Sources other than the first input (parameters, tokens) move down next to their consumers.
    for node in reversed(order):
        if not preds[node] and succs[node] and rank[node] == 0 and node != order[0]:
            rank[node] = max(0, min(rank[s] for s in succs[node]) - 1)
    return rank


def _rows(order: list[str], rank: dict[str, int], preds: dict[str, list[str]],
          succs: dict[str, list[str]]) -> list[list[str]]:
    rows: list[list[str]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for node in order:
        rows[rank[node]].append(node)
    slot = {node: i - (len(row) - 1) / 2 for row in rows for i, node in enumerate(row)}

    def sweep(sequence: list[list[str]], neighbours: dict[str, list[str]]) -> None:
        for row in sequence:
            keys = {}
            for node in row:
                near = [slot[n] for n in neighbours[node] if n in slot]
                keys[node] = sum(near) / len(near) if near else slot[node]
            row.sort(key=lambda n: keys[n])
            for i, node in enumerate(row):
                slot[node] = i - (len(row) - 1) / 2

    for _ in range(2):
        sweep(rows, preds)
        sweep(rows[::-1], succs)
    sweep(rows, preds)
    return rows


def _columns(rows: list[list[str]], preds: dict[str, list[str]]) -> dict[str, float]:
    x: dict[str, float] = {}
    for row in rows:
        wanted = []
        for i, node in enumerate(row):
            above = [x[p] for p in preds[node] if p in x]
            wanted.append(sum(above) / len(above) if above else (i - (len(row) - 1) / 2) * COLUMN)
        placed = list(wanted)
        for i in range(1, len(placed)):
            placed[i] = max(placed[i], placed[i - 1] + COLUMN)
        # Spacing pushed the row right: shift it back so it sits, on average, under its parents.
        shift = sum(w - p for w, p in zip(wanted, placed, strict=True)) / len(placed) if placed else 0.0
        for node, value in zip(row, placed, strict=True):
            x[node] = value + shift
    return x


def layout_positions(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Top-left corners ``{"x", "y"}`` for every node id of a document's ``nodes`` and ``edges``:
    inputs at the top, each edge pointing down, rows ``ROW`` apart. Edges naming unknown nodes
    are ignored; a cycle keeps document order."""
    ids = [n["id"] for n in nodes]
    known = set(ids)
    succs: dict[str, list[str]] = defaultdict(list)
    preds: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        source, target = str(edge.get("source")), str(edge.get("target"))
        if source in known and target in known and source != target and target not in succs[source]:
            succs[source].append(target)
            preds[target].append(source)
    order = _topological(ids, succs, preds)
    rank = _ranks(order, succs, preds)
    x = _columns(_rows(order, rank, preds, succs), preds)
    left = min(x.values(), default=0.0)
    return {node: {"x": round(x[node] - left), "y": rank[node] * ROW} for node in ids}


def layout_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every node placed by ``layout_positions``, when it needs a layout
    (``needs_layout``); otherwise unchanged. Changes the document in place and returns it."""
    nodes = document.get("nodes") or []
    if not needs_layout(nodes):
        return document
    positions = layout_positions(nodes, document.get("edges") or [])
    for node in nodes:
        node["position"] = positions[node["id"]]
    return document
