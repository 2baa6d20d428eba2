"""The serving index file: written whole and atomically, read again by the serving app whenever it
changes, and an unreadable one serves nothing. No database here."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipelines.serving.keyindex import ServedDeployment, index_path, parse_index, write_index
from serving.index import KeyIndex


def _deployment(name: str, *keys: str, status: str = "succeeded", limit: int = 60) -> ServedDeployment:
    return ServedDeployment(id=len(name), name=name, version="7", status=status, folder=f"deployments/{name}",
                            max_body_bytes=1000, rate_limit_per_minute=limit,
                            keys=frozenset(hashlib.sha256(k.encode()).hexdigest() for k in keys))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_keys_names_and_changes(tmp_path: Path) -> None:
    index = KeyIndex(tmp_path)
    assert index.find("digits", _digest("k1")) is None  # no index yet: nothing served
    write_index(tmp_path, [_deployment("digits", "k1", "k2"), _deployment("other", "k3")])
    assert index.find("digits", _digest("k1")).name == "digits"  # type: ignore[union-attr]
    assert index.find("digits", _digest("k3")) is None and index.find("other", _digest("k3")) is not None
    assert index.find("digits", None) is None and index.find("nobody", _digest("k1")) is None
    write_index(tmp_path, [_deployment("digits", "k2", limit=5)])  # k1 revoked, other undeployed
    assert index.find("digits", _digest("k1")) is None and index.find("other", _digest("k3")) is None
    assert index.find("digits", _digest("k2")).rate_limit_per_minute == 5  # type: ignore[union-attr]
    assert [p.name for p in tmp_path.iterdir()] == [index_path(tmp_path).name]  # no temporary left behind


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = write_index(tmp_path, [_deployment("digits", "k1")])
    before = os.stat(path).st_ino
    write_index(tmp_path, [_deployment("digits", "k1")])
    assert os.stat(path).st_ino != before  # renamed over, never written in place


@pytest.mark.parametrize("raw", [b"{}", b"not json", b'{"format": 99, "deployments": []}',
                                 b'{"format": 1, "deployments": [{"name": "x"}]}'])
def test_an_unreadable_index_serves_nothing(tmp_path: Path, raw: bytes) -> None:
    index = KeyIndex(tmp_path)
    write_index(tmp_path, [_deployment("digits", "k1")])
    assert index.find("digits", _digest("k1")) is not None
    index_path(tmp_path).write_bytes(raw)
    assert index.find("digits", _digest("k1")) is None
    with pytest.raises((ValueError, TypeError)):
        parse_index(raw)
