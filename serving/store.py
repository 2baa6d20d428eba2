"""The serving app on a shared object store (issue 18): with ``VMB_STORAGE_BACKEND=s3`` a serving
process needs neither the models volume nor Django, only the store.

- The index of live deployments is the object ``models/serving-index.json`` the domain uploads
  whenever it rewrites the index; a thread reads it again every ``index_poll_s`` seconds, so a
  revoked key or an undeployed name is refused within that delay (the local file is checked on
  every request instead).
- A deployment's model is its serving folder packed into one tar named by its SHA-256, found
  through the pointer ``models/<folder>/bundle.json``: fetched once through the local read cache
  (checked against the hash, bounded by ``VMB_CACHE_BYTES``), unpacked into a private folder and
  loaded from it (``pipelines.serving.bundles``).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from pipelines.serving import bundles
from pipelines.serving.keyindex import INDEX_FILE, ServedDeployment, parse_index
from pipelines.serving.runtime import LoadedModel, models
from pipelines.storage.cache import ContentCache
from pipelines.storage.s3 import S3Location

log = logging.getLogger(__name__)
PREFIX = "models"  # domain.storage.AREAS: the models area's prefix in the store


class StoreIndex:
    """``serving.index.KeyIndex`` read from the store, refreshed by a thread every ``poll_s``."""

    def __init__(self, store: S3Location, poll_s: float) -> None:
        self.store, self.poll_s = store, poll_s
        self._deployments: dict[str, ServedDeployment] = {}
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the index object now (no index: no deployment; an unreadable one: none either)."""
        try:
            with self.store.open(f"{PREFIX}/{INDEX_FILE}") as body:
                self._deployments = parse_index(body.read())
        except FileNotFoundError:
            self._deployments = {}
        except (ValueError, TypeError):
            log.exception("the serving index in the store is unreadable; no model is served")
            self._deployments = {}
        except Exception:  # noqa: BLE001  (the store is unreachable: keep serving what it said last)
            log.exception("could not read the serving index from the store")

    def _poll(self) -> None:
        while not self._stopped.is_set():
            self.refresh()
            self._started.set()
            self._stopped.wait(self.poll_s)

    def close(self) -> None:
        """Stop polling (the app's shutdown)."""
        self._stopped.set()

    def deployments(self) -> dict[str, ServedDeployment]:
        """The live deployments by name, as the store said at the last poll."""
        if not self._started.is_set():
            with self._lock:
                if not self._started.is_set():
                    threading.Thread(target=self._poll, daemon=True, name="serving-index-poll").start()
        return self._deployments

    def find(self, name: str, digest: str | None) -> ServedDeployment | None:
        deployment = self.deployments().get(name)
        if deployment is None or digest is None or digest not in deployment.keys:
            return None
        return deployment


class StoreModels:
    """Loads a deployment's model from the store through the content-hash cache."""

    def __init__(self, store: S3Location, cache_dir: Path, cache_bytes: int) -> None:
        self.store = store
        self.cache = ContentCache(cache_dir, cache_bytes)

    def load(self, deployment: ServedDeployment, threads: int) -> LoadedModel:
        """The deployment's model, loaded once per process (``runtime.models``). Raises
        ``FileNotFoundError`` when the store lacks its bundle and ``DigestMismatch`` when the
        bundle's bytes are not the ones published."""
        with self.store.open(f"{PREFIX}/{bundles.pointer_name(deployment.folder)}") as body:
            ref = bundles.read_pointer(body.read())
        packed = self.cache.fetch(ref["sha256"], lambda: self.store.open(f"{PREFIX}/{ref['name']}"))
        with bundles.unpacked(packed) as folder:  # the loaded model holds nothing open in it
            return models.get(deployment.model_key, folder, threads)
