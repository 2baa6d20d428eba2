"""The graph document: strict parsing, defaults, the lenient reader and the JSON Schema file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from builder.graph import GraphDocument, GraphError, Node, parse_document, registry
from builder.graph.document import document_json_schema, is_valid_node_id, read_document

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_FILE = DOCS / "graph-format.schema.json"


def test_defaults_for_ports_position_and_lists() -> None:
    doc = parse_document(
        {
            "nodes": [{"id": "x", "type": "vector_input"}, {"id": "r", "type": "relu"}],
            "edges": [{"source": "x", "target": "r"}],
        }
    )
    assert doc.schema_version == 1 and doc.name is None
    assert doc.edges[0].source_port == "out" and doc.edges[0].target_port == "in"
    assert doc.nodes[0].position.x == 0.0 and doc.nodes[0].params == {}
    assert doc.inputs is None and doc.outputs is None
    assert doc.node("r") is doc.nodes[1] and doc.node("nope") is None


def test_round_trips_through_json(lenet_doc: dict[str, Any]) -> None:
    doc = parse_document(json.dumps(lenet_doc))
    assert parse_document(doc.model_dump_json()) == doc
    assert parse_document(doc) is not None


@pytest.mark.parametrize(
    ("node_id", "ok"),
    [
        ("conv1", True),
        ("_x", True),
        ("Conv_2", True),
        ("1x", False),
        ("my-conv", False),
        ("class", False),
        ("lambda", False),
        ("", False),
        ("a" * 101, False),
        ("é", False),
    ],
)
def test_node_ids_are_python_identifiers(node_id: str, ok: bool) -> None:
    assert is_valid_node_id(node_id) is ok
    try:
        Node(id=node_id, type="relu")
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is ok


def test_parse_document_raises_with_every_structural_problem() -> None:
    with pytest.raises(GraphError) as info:
        parse_document(
            {
                "nodes": [{"id": "for", "type": "relu"}, {"id": "for", "type": "relu"}, {"type": "relu"}],
                "edges": [{"source": 3}],
                "extra": True,
            }
        )
    assert sorted(e.code for e in info.value.report.errors) == [
        "duplicate_id",
        "invalid_document",
        "invalid_document",
        "invalid_document",
        "invalid_id",
    ]


def test_reader_keeps_what_it_can_use() -> None:
    read = read_document(
        {
            "nodes": [
                {"id": "a", "type": "relu", "params": 5, "position": "here"},
                {"id": "b", "type": "relu", "label": 3, "colour": "red"},
            ],
            "edges": [{"source": "a", "target": "b", "source_port": None}],
        }
    )
    assert [n.id for n in read.nodes] == ["a", "b"] and read.broken == {"a"}
    assert read.edges[0].source_port == "out"
    assert len(read.issues) == 4  # params, position, label, unknown field
    assert read.to_document().nodes[1].label is None


def test_schema_file_matches_the_models() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == document_json_schema(), (
        "regenerate docs/graph-format.schema.json from builder.graph.document.document_json_schema()"
    )


def test_schema_accepts_documents_the_model_accepts(lenet_doc: dict[str, Any]) -> None:
    schema = document_json_schema()
    jsonschema.validate(lenet_doc, schema)
    jsonschema.validate(GraphDocument.model_validate(lenet_doc).model_dump(mode="json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"nodes": [{"id": "1x", "type": "relu"}]}, schema)


def test_every_builtin_layer_is_documented() -> None:
    text = (DOCS / "graph-format.md").read_text()
    missing = [
        layer.id
        for layer in registry
        if registry.source_of(layer.id) == "builtin"
        and f"`{layer.id}`" not in text
        and f"`{layer.id[:-2]}1d/2d/3d`" not in text
    ]
    assert not missing, f"add these layers to docs/graph-format.md: {missing}"
