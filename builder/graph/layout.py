"""Automatic left-to-right layout of a graph document (a small Sugiyama-style layered drawing).

Steps: (1) each node's layer is its longest-path distance from the graph's sources, so every
edge points right; (2) edges spanning several layers get invisible dummy nodes, one per layer
crossed, so long skip connections take part in ordering; (3) a few down/up sweeps order each
layer by the barycenter of its neighbours in the previous layer, which removes most crossings;
(4) vertical coordinates pull each node towards its neighbours' mean while keeping a minimum gap
(an exact least-squares fit, solved by pool-adjacent-violators), so chains come out straight.

Pure Python; the document is plain JSON (a ``dict``), and cycles or dangling edges (which
validation reports) do not stop the layout.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from itertools import pairwise
from typing import Any

LAYER_SPACING = 220.0
ROW_SPACING = 110.0
_SWEEPS = 8
_PLACEMENT_ROUNDS = 6
_DUMMY_BUDGET_PER_NODE = 4


def auto_layout(
    graph: dict[str, Any],
    *,
    layer_spacing: float = LAYER_SPACING,
    row_spacing: float = ROW_SPACING,
) -> dict[str, Any]:
    """Return a copy of the graph document with every node's ``position`` set.

    Inputs sit on the left at ``x = 0``; each later layer is ``layer_spacing`` further right;
    nodes in a layer are at least ``row_spacing`` apart vertically and centred around ``y = 0``.
    """
    doc = copy.deepcopy(graph)
    nodes = doc.get("nodes", [])
    ids = [str(n["id"]) for n in nodes]
    known = set(ids)
    edges = [
        (str(e["source"]), str(e["target"]))
        for e in doc.get("edges", [])
        if e.get("source") in known and e.get("target") in known and e["source"] != e["target"]
    ]
    layer = _assign_layers(ids, edges)
    layers, succ, pred = _insert_dummies(ids, edges, layer)
    _reduce_crossings(layers, succ, pred)
    y = _place_rows(layers, succ, pred, row_spacing)
    for node in nodes:
        nid = str(node["id"])
        node["position"] = {"x": layer[nid] * layer_spacing, "y": round(y[nid], 1)}
    return doc


def _assign_layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a source, by Kahn's order; nodes on cycles go after the rest."""
    succ: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(ids, 0)
    for s, t in set(edges):
        succ[s].append(t)
        indeg[t] += 1
    layer = dict.fromkeys(ids, 0)
    ready = [n for n in ids if indeg[n] == 0]
    done: set[str] = set()
    while ready:
        n = ready.pop()
        done.add(n)
        for t in succ[n]:
            layer[t] = max(layer[t], layer[n] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                ready.append(t)
    if len(done) < len(ids):
        last = max((layer[n] for n in done), default=-1)
        for n in ids:
            if n not in done:
                last += 1
                layer[n] = last
    return layer


def _insert_dummies(
    ids: list[str], edges: list[tuple[str, str]], layer: dict[str, int]
) -> tuple[list[list[str]], dict[str, list[str]], dict[str, list[str]]]:
    """Split edges that span several layers into chains through dummy nodes (ids start with a
    NUL so they never clash with a real id); only forward edges are kept.

    Densely connected graphs (DenseNet) have quadratically many long edges, so dummies are
    spent on the shortest edges first, up to a budget; longer edges beyond it don't steer the
    ordering (they are still drawn, by the canvas, as straight lines).
    """
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    depth = max(layer.values(), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for n in ids:
        layers[layer[n]].append(n)
    forward = [(s, t) for s, t in dict.fromkeys(edges) if layer[t] > layer[s]]
    budget = _DUMMY_BUDGET_PER_NODE * len(ids)
    for k, (s, t) in enumerate(sorted(forward, key=lambda e: layer[e[1]] - layer[e[0]])):
        span = layer[t] - layer[s]
        if span > 1:
            if span - 1 > budget:
                continue
            budget -= span - 1
        prev = s
        for step in range(layer[s] + 1, layer[t]):
            dummy = f"\0{k}:{step}"
            layers[step].append(dummy)
            succ[prev].append(dummy)
            pred[dummy].append(prev)
            prev = dummy
        succ[prev].append(t)
        pred[t].append(prev)
    return layers, succ, pred


def _reduce_crossings(
    layers: list[list[str]], succ: dict[str, list[str]], pred: dict[str, list[str]]
) -> None:
    """Alternate down and up barycenter sweeps; keeps the best ordering seen."""
    best = [list(lay) for lay in layers]
    best_crossings = _count_crossings(layers, succ)
    for sweep in range(_SWEEPS):
        down = sweep % 2 == 0
        order = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in order:
            ref = layers[i - 1] if down else layers[i + 1]
            nbrs = pred if down else succ
            pos = {n: j for j, n in enumerate(ref)}
            current = {n: j for j, n in enumerate(layers[i])}

            def key(n: str, pos: dict[str, int] = pos, nbrs: dict[str, list[str]] = nbrs,
                    current: dict[str, int] = current) -> float:
                linked = [pos[m] for m in nbrs.get(n, ()) if m in pos]
                return sum(linked) / len(linked) if linked else float(current[n])

            layers[i].sort(key=key)
        crossings = _count_crossings(layers, succ)
        if crossings < best_crossings:
            best_crossings = crossings
            best = [list(lay) for lay in layers]
        if crossings == 0:
            break
    layers[:] = best


def _count_crossings(layers: list[list[str]], succ: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in pairwise(layers):
        pos = {n: j for j, n in enumerate(lower)}
        ends = [pos[t] for n in upper for t in sorted(succ.get(n, ()), key=pos.__getitem__)
                if t in pos]
        # Inversions among edge end positions, upper layer already in order: O(E log E).
        total += _inversions(ends)
    return total


def _inversions(seq: list[int]) -> int:
    """Pairs i < j with seq[i] > seq[j], with a Fenwick tree over the values: O(n log n)."""
    size = max(seq, default=0) + 1
    tree = [0] * (size + 1)
    count = 0
    for seen, value in enumerate(seq):
        i, not_greater = value + 1, 0
        while i > 0:
            not_greater += tree[i]
            i -= i & -i
        count += seen - not_greater
        i = value + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return count


def _place_rows(
    layers: list[list[str]],
    succ: dict[str, list[str]],
    pred: dict[str, list[str]],
    gap: float,
) -> dict[str, float]:
    y: dict[str, float] = {}
    for lay in layers:
        for j, n in enumerate(lay):
            y[n] = (j - (len(lay) - 1) / 2) * gap
    for rnd in range(_PLACEMENT_ROUNDS):
        down = rnd % 2 == 0
        nbrs = pred if down else succ
        order = layers if down else layers[::-1]
        for lay in order:
            wanted = []
            for n in lay:
                linked = [y[m] for m in nbrs.get(n, ())]
                wanted.append(sum(linked) / len(linked) if linked else y[n])
            for n, value in zip(lay, _fit_with_gap(wanted, gap), strict=True):
                y[n] = value
    # Centre the drawing vertically on y = 0.
    real = [v for n, v in y.items() if not n.startswith("\0")]
    if real:
        shift = (max(real) + min(real)) / 2
        y = {n: v - shift for n, v in y.items()}
    return y


def _fit_with_gap(wanted: list[float], gap: float) -> list[float]:
    """Positions closest (least squares) to ``wanted`` with consecutive ones >= ``gap`` apart.

    Substituting ``z_i = y_i - i * gap`` turns the constraint into ``z`` non-decreasing:
    isotonic regression, which pool-adjacent-violators solves in linear time.
    """
    blocks: list[list[float]] = []  # [mean, weight]
    for i, w in enumerate(wanted):
        blocks.append([w - i * gap, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    out: list[float] = []
    for mean, weight in blocks:
        out.extend([mean] * int(weight))
    return [z + i * gap for i, z in enumerate(out)]
