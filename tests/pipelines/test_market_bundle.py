"""The market bundle format on its own: a round trip, and every bundle that is refused."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
from safetensors.torch import save as st_save

from builder.graph import registry
from builder.graph.registry import REGISTRY_VERSION
from builder.graph.templates import get_template
from pipelines.market.bundle import BundleError, MarketBundle, layer_types, read_bundle, sha256, write_bundle

KNOWN = set(registry.ids())


def _bundle(weights: bool = True) -> bytes:
    document = get_template("tabular_mlp")
    data = st_save({"w": torch.ones(2, 3)}) if weights else None
    return write_bundle(MarketBundle(document, {"title": "mlp", "classes": ["a", "b"]}, REGISTRY_VERSION, data))


def _read(data: bytes) -> MarketBundle:
    return read_bundle(data, known_layer_types=KNOWN, registry_version=REGISTRY_VERSION)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return out.getvalue()


def _refused(data: bytes, code: str, file: str | None = None) -> BundleError:
    with pytest.raises(BundleError) as caught:
        _read(data)
    assert caught.value.code == code, caught.value.message
    if file is not None:
        assert caught.value.file == file
    return caught.value


@pytest.mark.parametrize("weights", [True, False])
def test_round_trip(weights: bool) -> None:
    bundle = _read(_bundle(weights))
    assert bundle.document == get_template("tabular_mlp")
    assert bundle.card["title"] == "mlp"
    assert bundle.registry_version == REGISTRY_VERSION
    assert bundle.is_template is not weights
    manifest = bundle.manifest
    assert manifest["layer_types"] == layer_types(get_template("tabular_mlp"))
    if weights:
        assert manifest["files"]["weights.safetensors"]["sha256"] == sha256(bundle.weights or b"")


def test_not_a_zip() -> None:
    _refused(b"PK\x03\x04 not really", "not_a_zip")


def test_tampered_weights() -> None:
    members = _members(_bundle())
    members["weights.safetensors"] = st_save({"w": torch.zeros(2, 3)})
    error = _refused(_zip(members), "checksum_mismatch", "weights.safetensors")
    assert "SHA-256" in error.message


def test_tampered_graph() -> None:
    members = _members(_bundle())
    members["graph.json"] = members["graph.json"].replace(b'"', b'"', 1) + b" "
    _refused(_zip(members), "checksum_mismatch", "graph.json")


def _rewrite(members: dict[str, bytes], name: str, blob: bytes) -> bytes:
    """Replace a member and fix its hash in the manifest, as a careful forger would."""
    members[name] = blob
    manifest = json.loads(members["manifest.json"])
    manifest["files"][name] = {"sha256": sha256(blob), "bytes": len(blob)}
    members["manifest.json"] = json.dumps(manifest).encode()
    return _zip(members)


def test_unknown_layer_type() -> None:
    members = _members(_bundle())
    document = json.loads(members["graph.json"])
    document["nodes"][1]["type"] = "quantum_entangler"
    error = _refused(_rewrite(members, "graph.json", json.dumps(document).encode()), "unknown_layer_type", "graph.json")
    assert "quantum_entangler" in error.message


def test_newer_registry_is_refused() -> None:
    members = _members(_bundle())
    manifest = json.loads(members["manifest.json"])
    manifest["registry_version"] = REGISTRY_VERSION + 1
    members["manifest.json"] = json.dumps(manifest).encode()
    error = _refused(_zip(members), "incompatible_version", "manifest.json")
    assert str(REGISTRY_VERSION + 1) in error.message


def test_unknown_bundle_version() -> None:
    members = _members(_bundle())
    manifest = json.loads(members["manifest.json"])
    manifest["bundle_version"] = 99
    members["manifest.json"] = json.dumps(manifest).encode()
    _refused(_zip(members), "incompatible_version", "manifest.json")


@pytest.mark.parametrize("name", ["../evil.json", "/etc/passwd", "a/../../b", "C:\\x", "sub\\..\\x"])
def test_path_tricks(name: str) -> None:
    members = _members(_bundle())
    members[name] = b"{}"
    _refused(_zip(members), "unsafe_path", name)


def test_unexpected_member() -> None:
    members = _members(_bundle())
    members["model.pt"] = b"\x80\x04pickle"
    _refused(_zip(members), "unexpected_file", "model.pt")


@pytest.mark.parametrize("name", ["manifest.json", "graph.json", "card.json"])
def test_missing_member(name: str) -> None:
    members = _members(_bundle())
    del members[name]
    _refused(_zip(members), "missing_file", name)


def test_listed_file_missing() -> None:
    members = _members(_bundle())
    del members["weights.safetensors"]
    _refused(_zip(members), "missing_file", "weights.safetensors")


def test_unlisted_member() -> None:
    members = _members(_bundle(weights=False))
    members["weights.safetensors"] = st_save({"w": torch.ones(1)})
    _refused(_zip(members), "unlisted_file", "weights.safetensors")


def test_weights_not_safetensors() -> None:
    members = _members(_bundle())
    _refused(_rewrite(members, "weights.safetensors", b"\x80\x04\x95pickled"), "invalid_weights", "weights.safetensors")


def test_card_not_json() -> None:
    members = _members(_bundle())
    _refused(_rewrite(members, "card.json", b"{not json"), "invalid_json", "card.json")
