"""The graph document: what the canvas saves and the server validates, compiles and trains.

``GraphDocument`` is the strict Pydantic model. ``read_document`` is the lenient reader the
validator uses: it accepts any JSON-ish value, keeps whatever it can use and reports the rest
as issues, so a half-broken document still gets every other problem and shape reported.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from torch import fx, nn

from .errors import GraphError, Issue

SCHEMA_VERSION: Final = 1
NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_ID_LENGTH = 100
_NODE_ID = re.compile(NODE_ID_PATTERN)

# Ids a layer node can't take: the compiled GraphModule (and the exported Model) names each
# submodule after its node, so these would shadow one of its methods or attributes (forward,
# training, graph, code, eval, to, type...). Input nodes become forward() arguments instead.
RESERVED_IDS: frozenset[str] = frozenset(dir(fx.GraphModule(nn.Module(), fx.Graph()))) | {
    "input_names",
    "output_names",
}


def is_valid_node_id(node_id: str) -> bool:
    """Node ids name compiled submodules, so they must be Python identifiers, not keywords."""
    return len(node_id) <= MAX_ID_LENGTH and bool(_NODE_ID.match(node_id)) and not keyword.iskeyword(node_id)


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: Annotated[float, Field(description="Canvas x coordinate.")] = 0.0
    y: Annotated[float, Field(description="Canvas y coordinate.")] = 0.0


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        pattern=NODE_ID_PATTERN,
        max_length=MAX_ID_LENGTH,
        description="Python identifier, not a keyword: the compiled submodule is named after it.",
    )
    type: str = Field(min_length=1, description="Layer type id from the registry, e.g. conv2d.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Layer parameters; see the layer's params schema."
    )
    position: Position = Field(
        default_factory=Position,
        description="Where the node sits on the canvas. Optional: a document whose nodes have none "
        "(a template, an import) is laid out by the canvas when it opens.",
    )
    label: str | None = Field(None, description="Optional display name.")

    @field_validator("id")
    @classmethod
    def _not_keyword(cls, value: str) -> str:
        if keyword.iskeyword(value):
            raise ValueError(f"{value!r} is a Python keyword")
        return value


class Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="Id of the node the tensor comes from.")
    source_port: str = Field("out", description="Output port of the source node.")
    target: str = Field(description="Id of the node the tensor goes to.")
    target_port: str = Field("in", description="Input port of the target node (in0, in1... for add/concat).")


class GraphDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = Field(1, description="Format version; this server reads 1.")
    name: str | None = Field(None, description="Optional model name.")
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    inputs: list[str] | None = Field(
        None,
        description="Input node ids in forward() argument order (default: every input layer, in node order).",
    )
    outputs: list[str] | None = Field(
        None,
        description="What forward() returns, in order: node ids or 'id:port' (default: nodes with no outgoing edge).",
    )

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass(slots=True)
class RawNode:
    """A node as the lenient reader found it (plain attributes: the validator reads many)."""

    id: str
    type: str
    params: dict[str, Any]
    x: float = 0.0
    y: float = 0.0
    label: str | None = None


@dataclass(slots=True)
class RawEdge:
    source: str
    source_port: str
    target: str
    target_port: str


@dataclass
class DocumentRead:
    """What ``read_document`` could use; ``broken`` nodes are kept as opaque vertices."""

    nodes: list[RawNode] = field(default_factory=list)
    edges: list[RawEdge] = field(default_factory=list)
    name: str | None = None
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    issues: list[Issue] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    original: GraphDocument | None = None

    def to_document(self) -> GraphDocument:
        """The document as read (unvalidated ``model_construct`` unless one was passed in)."""
        if self.original is not None:
            return self.original
        return GraphDocument.model_construct(
            schema_version=SCHEMA_VERSION,
            name=self.name,
            nodes=[
                Node.model_construct(
                    id=n.id,
                    type=n.type,
                    params=n.params,
                    position=Position.model_construct(x=n.x, y=n.y),
                    label=n.label,
                )
                for n in self.nodes
            ],
            edges=[
                Edge.model_construct(
                    source=e.source, source_port=e.source_port, target=e.target, target_port=e.target_port
                )
                for e in self.edges
            ],
            inputs=self.inputs,
            outputs=self.outputs,
        )


_DOC_KEYS = {"schema_version", "name", "nodes", "edges", "inputs", "outputs"}
_NODE_KEYS = {"id", "type", "params", "position", "label"}
_EDGE_KEYS = {"source", "source_port", "target", "target_port"}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Reader:
    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.broken: set[str] = set()

    def problem(self, message: str, node_id: str | None = None, code: str = "invalid_document") -> None:
        self.issues.append(Issue(code, message, node_id))

    def unknown_keys(
        self, raw: Mapping[Any, Any], allowed: set[str], where: str, node_id: str | None = None
    ) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(f"{where} has an unknown field {key!r}", node_id)

    def node(self, index: int, raw: object, seen: set[str]) -> RawNode | None:
        if not isinstance(raw, Mapping):
            self.problem(f"nodes[{index}] must be an object")
            return None
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not node_id:
            self.problem(f"nodes[{index}] needs an id (a non-empty string)")
            return None
        if node_id in seen:
            self.problem(f"node id '{node_id}' is used by more than one node", node_id, "duplicate_id")
            return None
        seen.add(node_id)
        if not is_valid_node_id(node_id):
            self.problem(
                f"node id '{node_id}' must be a Python identifier (letters, digits and _, not starting "
                "with a digit, not a keyword): the compiled submodule is named after it",
                node_id,
                "invalid_id",
            )
        where = f"node '{node_id}'"
        self.unknown_keys(raw, _NODE_KEYS, where, node_id)
        type_id = raw.get("type")
        if not isinstance(type_id, str) or not type_id:
            self.problem(f"{where} needs a type (a layer id such as conv2d)", node_id)
            self.broken.add(node_id)
            type_id = ""
        params = raw.get("params")
        if params is None:
            params = {}
        elif not isinstance(params, Mapping):
            self.problem(f"{where}: params must be an object", node_id)
            self.broken.add(node_id)
            params = {}
        position = raw.get("position")
        x = y = 0.0
        if isinstance(position, Mapping) and all(_is_number(position.get(k, 0.0)) for k in ("x", "y")):
            x, y = float(position.get("x", 0.0)), float(position.get("y", 0.0))
        elif position is not None:
            self.problem(f"{where}: position must be an object with numbers x and y", node_id)
        label = raw.get("label")
        if label is not None and not isinstance(label, str):
            self.problem(f"{where}: label must be a string", node_id)
            label = None
        return RawNode(node_id, type_id, dict(params), x, y, label)

    def edge(self, index: int, raw: object) -> RawEdge | None:
        if not isinstance(raw, Mapping):
            self.problem(f"edges[{index}] must be an object")
            return None
        source, target = raw.get("source"), raw.get("target")
        source_port, target_port = raw.get("source_port") or "out", raw.get("target_port") or "in"
        if not (
            isinstance(source, str)
            and source
            and isinstance(target, str)
            and target
            and isinstance(source_port, str)
            and isinstance(target_port, str)
        ):
            self.problem(
                f"edges[{index}] needs string source, target and ports",
                target if isinstance(target, str) else None,
            )
            return None
        self.unknown_keys(raw, _EDGE_KEYS, f"edges[{index}]", target)
        return RawEdge(source, source_port, target, target_port)

    def string_list(self, data: Mapping[Any, Any], key: str) -> list[str] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{key} must be a list of node ids")
            return None
        return list(value)

    def items(self, data: Mapping[Any, Any], key: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f"{key} must be a list")
            return []
        return value

    def read(self, data: object) -> DocumentRead:
        read = DocumentRead()
        if isinstance(data, GraphDocument):
            read.original, data = data, _plain(data)
        if isinstance(data, (str, bytes, bytearray)):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError) as exc:
                self.problem(f"the graph is not valid JSON: {exc}")
                return read
        if not isinstance(data, Mapping):
            self.problem("a graph document must be a JSON object with nodes and edges")
            return read
        self.unknown_keys(data, _DOC_KEYS, "the document")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION or isinstance(version, bool):
            self.problem(f"unsupported schema_version {version!r} (this server reads {SCHEMA_VERSION})")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            self.problem("name must be a string")
            name = None
        seen: set[str] = set()
        read.name = name
        read.nodes = [n for i, raw in enumerate(self.items(data, "nodes")) if (n := self.node(i, raw, seen))]
        read.edges = [e for i, raw in enumerate(self.items(data, "edges")) if (e := self.edge(i, raw))]
        read.inputs, read.outputs = self.string_list(data, "inputs"), self.string_list(data, "outputs")
        return read


def _plain(doc: GraphDocument) -> dict[str, Any]:
    """A document's fields as plain containers (cheaper than ``model_dump`` for the reader)."""
    return {
        "schema_version": doc.schema_version,
        "name": doc.name,
        "inputs": doc.inputs,
        "outputs": doc.outputs,
        "nodes": [
            {
                "id": n.id,
                "type": n.type,
                "params": n.params,
                "label": n.label,
                "position": {"x": n.position.x, "y": n.position.y},
            }
            for n in doc.nodes
        ],
        "edges": [
            {
                "source": e.source,
                "source_port": e.source_port,
                "target": e.target,
                "target_port": e.target_port,
            }
            for e in doc.edges
        ],
    }


def read_document(data: object) -> DocumentRead:
    """Read anything (a ``GraphDocument``, a dict, JSON text, junk) without raising."""
    reader = _Reader()
    try:
        read = reader.read(data)
    except Exception as exc:  # noqa: BLE001  (e.g. a GraphDocument built with model_construct junk)
        read = DocumentRead()
        reader.problem(f"the graph could not be read: {exc!r}")
    read.issues, read.broken = reader.issues, reader.broken
    return read


def parse_document(data: GraphDocument | Mapping[str, Any] | str | bytes) -> GraphDocument:
    """A strictly valid ``GraphDocument`` (structure only: layer types and shapes are
    ``validate``'s job). Raises ``GraphError`` whose report lists every structural problem."""
    read = read_document(data)
    if not read.issues:
        try:
            return GraphDocument.model_validate(read.to_document().model_dump())
        except ValidationError as exc:  # a rule the lenient reader doesn't know about
            read.issues.append(Issue("invalid_document", str(exc)))
    from .report import ValidationReport

    raise GraphError(ValidationReport(errors=read.issues))


def document_json_schema() -> dict[str, Any]:
    """JSON Schema of the document format (``docs/graph-format.schema.json``). Each layer's
    ``params`` schema is served separately, from the registry."""
    schema = GraphDocument.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://visual-model-builder.local/schemas/graph-format.schema.json",
        **schema,
        "title": "Visual Model Builder graph document",
    }
