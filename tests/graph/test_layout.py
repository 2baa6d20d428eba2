"""auto_layout: layered left-to-right drawing of graph documents."""
from __future__ import annotations

import time
from itertools import pairwise

from builder.graph.layout import LAYER_SPACING, ROW_SPACING, _count_crossings, auto_layout


def _doc(edges: list[tuple[str, str]], extra: tuple[str, ...] = ()) -> dict:
    ids = list(dict.fromkeys([n for e in edges for n in e] + list(extra)))
    return {
        "nodes": [{"id": n, "type": "identity", "params": {}} for n in ids],
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


def _pos(doc: dict) -> dict[str, tuple[float, float]]:
    return {n["id"]: (n["position"]["x"], n["position"]["y"]) for n in doc["nodes"]}


def test_edges_point_right_by_longest_path() -> None:
    doc = auto_layout(_doc([("x", "a"), ("a", "b"), ("b", "c"), ("x", "c")]))
    pos = _pos(doc)
    assert [pos[n][0] for n in "xabc"] == [0, LAYER_SPACING, 2 * LAYER_SPACING, 3 * LAYER_SPACING]


def test_does_not_modify_input_and_keeps_other_fields() -> None:
    src = _doc([("x", "a")])
    src["nodes"][0]["label"] = "input"
    out = auto_layout(src)
    assert "position" not in src["nodes"][0]
    assert out["nodes"][0]["label"] == "input"
    assert out["edges"] == src["edges"]


def test_chain_is_straight() -> None:
    doc = auto_layout(_doc([(f"n{i}", f"n{i + 1}") for i in range(10)]))
    assert {y for _, y in _pos(doc).values()} == {0.0}


def test_nodes_in_a_layer_keep_min_gap() -> None:
    edges = [("x", f"b{i}") for i in range(5)] + [(f"b{i}", "cat") for i in range(5)]
    pos = _pos(auto_layout(_doc(edges)))
    ys = sorted(pos[f"b{i}"][1] for i in range(5))
    assert all(b - a >= ROW_SPACING - 1e-6 for a, b in pairwise(ys))
    # Fan-out/fan-in is centred on its source and sink.
    assert abs(sum(ys) / 5 - pos["x"][1]) < 1e-6
    assert pos["x"][1] == pos["cat"][1]


def test_barycenter_removes_crossings() -> None:
    # Two parallel chains whose second layer is listed in crossing order.
    doc = _doc([("a", "d"), ("b", "c"), ("c", "e"), ("d", "f")], extra=())
    doc["nodes"] = sorted(doc["nodes"], key=lambda n: n["id"])
    pos = _pos(auto_layout(doc))
    a_below_b = pos["a"][1] > pos["b"][1]
    assert (pos["d"][1] > pos["c"][1]) == a_below_b
    assert (pos["f"][1] > pos["e"][1]) == a_below_b


def test_cycles_and_dangling_edges_do_not_break_layout() -> None:
    doc = _doc([("a", "b"), ("b", "a"), ("c", "a")])
    doc["edges"].append({"source": "missing", "target": "a"})
    pos = _pos(auto_layout(doc))
    assert set(pos) == {"a", "b", "c"}
    assert len({p[0] for p in pos.values()}) == 3


def test_empty_graph() -> None:
    assert auto_layout({"nodes": [], "edges": []})["nodes"] == []


def test_300_nodes_with_skips_is_fast() -> None:
    edges = [(f"n{i}", f"n{i + 1}") for i in range(299)]
    edges += [(f"n{i}", f"n{i + 3}") for i in range(0, 296, 3)]
    edges += [(f"n{i}", f"n{i + 7}") for i in range(0, 290, 14)]
    start = time.perf_counter()
    auto_layout(_doc(edges))
    assert time.perf_counter() - start < 0.5


def test_count_crossings() -> None:
    layers = [["a", "b"], ["c", "d"]]
    assert _count_crossings(layers, {"a": ["d"], "b": ["c"]}) == 1
    assert _count_crossings(layers, {"a": ["c"], "b": ["d"]}) == 0
