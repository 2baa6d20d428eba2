"""A layer plugin installed with pip is picked up by load_plugins() and works like a built-in."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DocBuilder
from test_registry_walk import check_layer_example

from builder.graph import load_plugins, registry, validate

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "examples" / "vmb-example-plugin"
PLUGIN_IDS = ("scaled_tanh", "swish_beta")


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, timeout=180)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    # Build from a copy so setuptools' build/ and egg-info never land in the repository.
    source = tmp_path_factory.mktemp("plugin") / PLUGIN_DIR.name
    shutil.copytree(PLUGIN_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", str(source))
    importlib.invalidate_caches()
    try:
        yield load_plugins(force=True)
    finally:
        for type_id in PLUGIN_IDS:
            registry.unregister(type_id)
        _pip("uninstall", "--yes", "--quiet", "vmb-example-plugin")
        for name in [m for m in sys.modules if m.startswith("vmb_example_plugin")]:
            del sys.modules[name]


def test_load_plugins_registers_both_entry_point_forms(plugin: list[str]) -> None:
    assert sorted(plugin) == list(PLUGIN_IDS)
    assert {registry.source_of(t) for t in PLUGIN_IDS} == {"plugin:vmb-example-plugin"}
    described = {d["id"]: d for d in registry.describe_all()}
    assert described["scaled_tanh"]["source"] == "plugin:vmb-example-plugin"
    assert described["scaled_tanh"]["params_schema"]["properties"]["scale"]["default"] == 1.7159


def test_loading_again_is_a_no_op(plugin: list[str]) -> None:
    assert load_plugins() == []
    assert load_plugins(force=True) == []


@pytest.mark.parametrize("type_id", PLUGIN_IDS)
def test_plugin_layers_pass_the_registry_walk(plugin: list[str], type_id: str) -> None:
    layer = registry.get(type_id)
    assert layer is not None
    for index in range(len(layer.examples)):
        check_layer_example(layer, index)


def test_plugin_layers_validate_in_a_graph(plugin: list[str]) -> None:
    b = DocBuilder()
    b.add("x", "vector_input", {"features": 6})
    b.add("fc", "linear", {"out_features": 4}, "x")
    b.add("act", "scaled_tanh", {"learnable": True}, "fc")
    b.add("sw", "swish_beta", {}, "act")
    b.add("bad", "scaled_tanh", {"scale": -1}, "sw")
    report = validate(b.doc())
    assert [(e.code, e.node_id, e.param) for e in report.errors] == [("invalid_param", "bad", "scale")]
    assert report.nodes["sw"].outputs["out"] == (1, 4) and report.nodes["act"].params == 1
