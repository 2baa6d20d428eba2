"""The layers the code promises (README, docs/architecture.md), checked on every `make test`.

import-linter holds the contracts in pyproject.toml: the graph core <- the ML runtime <- the Django
domain <- the API and the serving app, and the domains one way. The other checks here are what
import-linter cannot see: private names reached across modules, and tasks queued by a name that no
task has."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("builder", "pipelines", "domain", "api", "serving", "config")


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts]


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_reaches_a_private_name_of_another() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        own = _module_name(path)
        imported_modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] not in PACKAGES or node.module == own:
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}")
                    else:
                        imported_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PACKAGES:
                        imported_modules.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in imported_modules and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} reaches {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def test_every_task_queued_by_name_is_registered() -> None:
    from config.celery_app import app

    app.loader.import_default_modules()
    queued = set()
    for path in _sources():
        queued |= set(re.findall(r"""(?:enqueue|queue_task|send_task)\(\s*["']([a-z_.]+)["']""", path.read_text()))
    assert len(queued) >= 5, f"the pattern no longer finds the queued tasks (found {sorted(queued)})"
    missing = sorted(name for name in queued if name not in app.tasks)
    assert not missing, f"queued by name but no such task: {missing}"


@pytest.mark.parametrize("name", ["runs.train_run", "runs.reap_stale_runs", "datasets.ingest_dataset_version",
                                  "deploy.compress_variant", "deploy.export_variant", "deploy.prepare_deployment",
                                  "market.seed_market_models", "projects.ping_project", "datasets.expire_uploads"])
def test_task_names_are_stable(name: str) -> None:
    """Queued messages outlive a deploy: renaming a task strands them in the broker."""
    from config.celery_app import app

    app.loader.import_default_modules()
    assert name in app.tasks


def test_one_precision_vocabulary() -> None:
    """The graph core's memory estimate names each precision as a run config does, so nothing
    translates between two vocabularies on the way to the browser."""
    from typing import get_args

    from builder.graph.report import PRECISIONS
    from pipelines.training.config import PrecisionConfig

    modes = get_args(PrecisionConfig.model_fields["precision_mode"].annotation)
    assert set(PRECISIONS) == set(modes) == {"fp32", "fp16", "bf16", "dynamic"}
