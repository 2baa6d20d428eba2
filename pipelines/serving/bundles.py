"""Serving folders on a shared object store (issue 18), so a serving process on another machine
needs only the store: the folder bundles of ``pipelines.storage.bundles`` under the models prefix.

A ready deployment's serving folder is packed into one tar object named by its SHA-256
(``bundles/<sha256>.tar`` under the models prefix), and a small pointer object
``<folder>/bundle.json`` names it and its hash. A serving process reads the pointer, fetches the
tar through its content-hash cache (checked against the hash), and loads the model from a private
copy unpacked from it; the loaded model keeps nothing open in that copy.
"""
from __future__ import annotations

from pipelines.storage import bundles as _bundles
from pipelines.storage.bundles import POINTER, install, pack, pointer_name, read_pointer, unpacked

__all__ = ["POINTER", "bundle_name", "install", "pack", "pointer", "pointer_name", "read_pointer", "unpacked"]


def bundle_name(sha256: str) -> str:
    """The packed folder's name under the models prefix: its content hash, shared by every
    folder with the same files."""
    return f"bundles/{sha256}.tar"


def pointer(sha256: str) -> bytes:
    return _bundles.pointer(bundle_name(sha256), sha256)
