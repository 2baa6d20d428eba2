"""Market bundles made for tests: a wide linear model of a chosen size, whose graph declares its
parameters without anyone building it."""
from __future__ import annotations

from typing import Any

from builder.graph.registry import REGISTRY_VERSION
from pipelines.market.bundle import MarketBundle, write_bundle


def wide_linear(features: int, out_features: int) -> dict[str, Any]:
    """``features`` inputs into one linear layer: ``features * out_features + out_features`` parameters."""
    return {
        "schema_version": 1, "name": "Wide linear",
        "nodes": [
            {"id": "x", "type": "vector_input", "params": {"features": features}, "position": {"x": 0, "y": 0}},
            {"id": "fc", "type": "linear", "params": {"out_features": out_features}, "position": {"x": 200, "y": 0}},
        ],
        "edges": [{"source": "x", "source_port": "out", "target": "fc", "target_port": "in"}],
    }


def bundle_of(document: dict[str, Any], weights: bytes | None = None, title: str = "Wide linear") -> bytes:
    card = {"title": title, "task": "regression", "modality": "tabular"}
    return write_bundle(MarketBundle(document, card, REGISTRY_VERSION, weights))
