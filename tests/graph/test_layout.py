"""The top-to-bottom layout that templates and imports arrive with (builder/graph/layout.py)."""
from __future__ import annotations

from typing import Any

import pytest

from builder.graph.layout import COLUMN, ROW, layout_document, layout_positions, needs_layout
from builder.graph.templates import get_template, list_templates


def _edge(source: str, target: str, port: str = "in") -> dict[str, str]:
    return {"source": source, "source_port": "out", "target": target, "target_port": port}


def _node(node_id: str, node_type: str = "relu", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "params": {}, **extra}


@pytest.mark.parametrize("template_id", sorted(t["id"] for t in list_templates()))
def test_templates_flow_down_without_overlaps(template_id: str) -> None:
    doc = get_template(template_id)
    at = {n["id"]: n["position"] for n in doc["nodes"]}
    for edge in doc["edges"]:
        assert at[edge["target"]]["y"] > at[edge["source"]]["y"], edge
    rows: dict[int, list[int]] = {}
    for position in at.values():
        assert position["y"] % ROW == 0 and position["x"] >= 0
        rows.setdefault(position["y"], []).append(position["x"])
    for xs in rows.values():
        xs.sort()
        assert all(b - a >= COLUMN - 1 for a, b in zip(xs, xs[1:], strict=False)), xs


def test_a_chain_is_one_column_top_to_bottom() -> None:
    nodes = [_node("x", "image_input"), _node("a"), _node("b"), _node("c")]
    at = layout_positions(nodes, [_edge("x", "a"), _edge("a", "b"), _edge("b", "c")])
    assert [at[n]["y"] for n in "xabc"] == [0, ROW, 2 * ROW, 3 * ROW]
    assert len({at[n]["x"] for n in "xabc"}) == 1


def test_a_branch_sits_beside_the_main_path_and_joins_below() -> None:
    nodes = [_node("x", "image_input"), _node("conv"), _node("bn"), _node("down"), _node("add", "add")]
    edges = [_edge("x", "conv"), _edge("conv", "bn"), _edge("x", "down"), _edge("bn", "add", "in0"), _edge("down", "add", "in1")]
    at = layout_positions(nodes, edges)
    assert at["conv"]["y"] == at["down"]["y"] == ROW
    assert abs(at["conv"]["x"] - at["down"]["x"]) >= COLUMN
    assert at["add"]["y"] == 3 * ROW


def test_a_learned_token_sits_just_above_its_consumer() -> None:
    nodes = [_node("x", "image_input"), _node("a"), _node("b"), _node("token", "parameter"), _node("cat", "concat")]
    edges = [_edge("x", "a"), _edge("a", "b"), _edge("b", "cat", "in0"), _edge("token", "cat", "in1")]
    at = layout_positions(nodes, edges)
    assert at["token"]["y"] == at["cat"]["y"] - ROW == 2 * ROW


def test_placed_documents_keep_their_positions() -> None:
    doc = {"nodes": [_node("x", position={"x": 5, "y": 7}), _node("a", position={"x": 50, "y": 70})],
           "edges": [_edge("x", "a")]}
    assert not needs_layout(doc["nodes"])
    assert layout_document(doc)["nodes"][1]["position"] == {"x": 50, "y": 70}


def test_nodes_at_one_point_or_unplaced_are_laid_out() -> None:
    stacked = [_node("x", position={"x": 0, "y": 0}), _node("a", position={"x": 0, "y": 0})]
    assert needs_layout(stacked)
    assert needs_layout([_node("x"), _node("a", position={"x": 1, "y": 1})])
    doc = layout_document({"nodes": stacked, "edges": [_edge("x", "a")]})
    assert doc["nodes"][1]["position"]["y"] == ROW


def test_a_cycle_or_a_dangling_edge_does_not_stop_the_layout() -> None:
    nodes = [_node("a"), _node("b")]
    at = layout_positions(nodes, [_edge("a", "b"), _edge("b", "a"), _edge("a", "ghost")])
    assert set(at) == {"a", "b"}
