"""The pure-Python graph core: document format, layer registry, validation with shape inference.

No Django here. Importing this package registers every built-in layer type. The compiler,
source export and importer are loaded on first use (``builder.graph.compile_graph``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from . import layers as _layers  # noqa: F401  (registers the built-in layer types)
from .document import Edge, GraphDocument, Node, Position, parse_document
from .errors import GraphError, Issue
from .registry import LayerType, Port, ShapeError, load_plugins, register, registry
from .validate import Limits, ValidationReport, validate

_LAZY = {
    "compile_graph": ".compiler",
    "to_source": ".source",
    "from_module": ".importer",
}

__all__ = [
    "Edge",
    "GraphDocument",
    "GraphError",
    "Issue",
    "LayerType",
    "Limits",
    "Node",
    "Port",
    "Position",
    "ShapeError",
    "ValidationReport",
    "compile_graph",
    "from_module",
    "load_plugins",
    "parse_document",
    "register",
    "registry",
    "to_source",
    "validate",
]


def __getattr__(name: str) -> Any:
    # The compiler and friends import this package, so they are loaded lazily to avoid a cycle.
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
