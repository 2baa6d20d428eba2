"""The serving index (``pipelines.serving.keyindex``) as the serving app reads it: checked on
every lookup (one ``stat``), the file is read again whenever it changed (its inode, size or
modification time; a write renames a new file over it) and while it is younger than 0.1 s, so a
revoked key or an undeployed name is refused from the first request after the domain wrote it."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from pipelines.serving.keyindex import ServedDeployment, index_path, parse_index

log = logging.getLogger(__name__)
FRESH_NS = 100_000_000  # 0.1 s


class KeyIndex:
    def __init__(self, models_dir: Path) -> None:
        self.path = str(index_path(models_dir))
        self._seen: tuple[int, int, int] | None = None
        self._deployments: dict[str, ServedDeployment] = {}

    def deployments(self) -> dict[str, ServedDeployment]:
        """The live deployments by name, as the index says now (none while there is no index)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._deployments = None, {}
            return self._deployments
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        # Timestamps are as coarse as the kernel's clock tick and inode numbers are reused, so two
        # writes of equal size within one tick could look alike: a file that young is read again.
        if seen != self._seen or time.time_ns() - stat.st_mtime_ns < FRESH_NS:
            try:
                with open(self.path, "rb") as index:
                    self._deployments = parse_index(index.read())
            except (OSError, ValueError, TypeError):
                # Writes are atomic, so this is a file written by something else: serve nothing
                # rather than an index nobody can vouch for.
                log.exception("the serving index %s is unreadable; no model is served", self.path)
                self._deployments = {}
            self._seen = seen
        return self._deployments

    def find(self, name: str, digest: str | None) -> ServedDeployment | None:
        """The live deployment ``name`` if ``digest`` (a presented key's SHA-256) is one of its keys."""
        deployment = self.deployments().get(name)
        # A set lookup by the digest, not the key: timing can reveal nothing about a key's text.
        if deployment is None or digest is None or digest not in deployment.keys:
            return None
        return deployment
