"""The serving index: which deployments are live, under which name, with which key digests and
limits, as one JSON file in the deployment folder (``VMB_MODELS_DIR``).

The domain writes it (``domain.deploy.serving_index.publish``) whenever what it says changes: a
deployment is created, becomes ready or fails, a key is created or revoked, a deployment is
undeployed. The serving app (``serving/``) reads it without any database. A write goes to a
temporary file in the same folder and is renamed over the old one, so a reader sees either the
old index or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

INDEX_FILE = "serving-index.json"
FORMAT = 1


@dataclass(frozen=True)
class ServedDeployment:
    """One live deployment as serving sees it. ``keys``: SHA-256 hex digests of its live keys."""

    id: int
    name: str
    version: str
    status: str  # the deployment's job status: queued, running, succeeded (live) or failed; stopped ones are left out
    folder: str  # the serving folder, relative to the models folder ("" until ready)
    max_body_bytes: int
    rate_limit_per_minute: int
    keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def ready(self) -> bool:
        return self.status == "succeeded"

    @property
    def model_key(self) -> str:
        """The key of its loaded model in ``pipelines.serving.runtime.models``."""
        return f"{self.id}:{self.version}"


def index_path(models_dir: Path | str) -> Path:
    return Path(models_dir) / INDEX_FILE


def write_index(models_dir: Path | str, deployments: Iterable[ServedDeployment]) -> Path:
    """Replace the index atomically; returns its path."""
    path = index_path(models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{**asdict(d), "keys": sorted(d.keys)} for d in deployments]
    data = json.dumps({"format": FORMAT, "deployments": entries}, separators=(",", ":")).encode()
    handle, temporary = tempfile.mkstemp(prefix=".serving-index-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def parse_index(raw: bytes) -> dict[str, ServedDeployment]:
    """The deployments of an index file's bytes, by name. Raises ``ValueError`` for a file that is
    not an index of this format."""
    data: Any = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("deployments"), list):
        raise ValueError(f"not a serving index of format {FORMAT}")
    found: dict[str, ServedDeployment] = {}
    for entry in data["deployments"]:
        deployment = ServedDeployment(**{**entry, "keys": frozenset(entry.get("keys", ()))})
        found[deployment.name] = deployment
    return found
