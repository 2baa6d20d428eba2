"""A market bundle: one zip holding ``manifest.json``, ``graph.json``, ``card.json`` and, for a
trained model, ``weights.safetensors``. Pure Python, no Django.

Reading a bundle executes nothing and unpickles nothing: members are JSON or safetensors, each
checked against the SHA-256 the manifest lists, the member names are checked before anything is
read, and every layer type the graph uses must be registered here.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

MANIFEST_FILE = "manifest.json"
GRAPH_FILE = "graph.json"
CARD_FILE = "card.json"
WEIGHTS_FILE = "weights.safetensors"
BUNDLE_VERSION = 1
KNOWN_MEMBERS = (MANIFEST_FILE, GRAPH_FILE, CARD_FILE, WEIGHTS_FILE)
MAX_JSON_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 4 << 30


class BundleError(ValueError):
    """A bundle that is refused. ``code`` is stable snake_case; ``file`` names the member at fault."""

    def __init__(self, code: str, message: str, file: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.file = file


@dataclass
class MarketBundle:
    document: dict[str, Any]
    card: dict[str, Any]
    registry_version: int
    weights: bytes | None = None  # raw safetensors bytes, checked to parse
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def is_template(self) -> bool:
        return self.weights is None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def layer_types(document: dict[str, Any]) -> list[str]:
    """The distinct layer type ids a graph document uses, sorted."""
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, list):
        return []
    return sorted({str(n.get("type")) for n in nodes if isinstance(n, dict)})


def write_bundle(bundle: MarketBundle) -> bytes:
    """The bundle as zip bytes, with a manifest listing each member's SHA-256."""
    members: dict[str, bytes] = {
        GRAPH_FILE: json.dumps(bundle.document, indent=1).encode(),
        CARD_FILE: json.dumps(bundle.card, indent=1).encode(),
    }
    if bundle.weights is not None:
        members[WEIGHTS_FILE] = bundle.weights
    manifest = {
        "bundle_version": BUNDLE_VERSION,
        "registry_version": bundle.registry_version,
        "layer_types": layer_types(bundle.document),
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in members.items()},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST_FILE, json.dumps(manifest, indent=1))
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def read_bundle(data: bytes, *, known_layer_types: Collection[str], registry_version: int) -> MarketBundle:
    """Read and check a bundle. Raises ``BundleError`` for the first problem found.

    ``known_layer_types`` are the type ids registered here; ``registry_version`` is this
    installation's registry version (a bundle made by a newer registry is refused).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BundleError("not_a_zip", f"the file is not a zip archive: {exc}") from exc
    with zf:
        infos = _checked_members(zf)
        manifest = _json(zf, infos, MANIFEST_FILE)
        _check_manifest(manifest, infos, registry_version)
        raw = {name: _read(zf, infos[name]) for name in infos if name != MANIFEST_FILE}
    for name, blob in raw.items():
        expected = manifest["files"][name]["sha256"]
        if sha256(blob) != expected:
            raise BundleError("checksum_mismatch", f"{name} does not match the SHA-256 in {MANIFEST_FILE}; "
                                                   "the bundle was changed after it was made", name)
    document = _parse_json(raw, GRAPH_FILE)
    card = _parse_json(raw, CARD_FILE)
    unknown = [t for t in layer_types(document) if t not in known_layer_types]
    if unknown:
        raise BundleError("unknown_layer_type", f"{GRAPH_FILE} uses layer types this installation does not "
                                                f"have: {', '.join(unknown)}", GRAPH_FILE)
    weights = raw.get(WEIGHTS_FILE)
    if weights is not None:
        _check_safetensors(weights)
    return MarketBundle(document, card, int(manifest["registry_version"]), weights, manifest)


def _checked_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or ":" in name:
            raise BundleError("unsafe_path", f"the bundle holds a file with an unsafe path: {name!r}", name)
        if name not in KNOWN_MEMBERS:
            raise BundleError("unexpected_file", f"the bundle holds an unexpected file {name!r}; "
                                                 f"allowed: {', '.join(KNOWN_MEMBERS)}", name)
        if name in infos:
            raise BundleError("duplicate_file", f"the bundle holds {name} twice", name)
        limit = MAX_WEIGHTS_BYTES if name == WEIGHTS_FILE else MAX_JSON_BYTES
        if info.file_size > limit:
            raise BundleError("too_large", f"{name} is larger than {limit} bytes", name)
        infos[name] = info
    for name in (MANIFEST_FILE, GRAPH_FILE, CARD_FILE):
        if name not in infos:
            raise BundleError("missing_file", f"the bundle has no {name}", name)
    return infos


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        blob = zf.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise BundleError("unreadable", f"{info.filename} cannot be read: {exc}", info.filename) from exc
    if len(blob) != info.file_size:
        raise BundleError("unreadable", f"{info.filename} is not the size its zip entry says", info.filename)
    return blob


def _json(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], name: str) -> Any:
    return _parse_json({name: _read(zf, infos[name])}, name)


def _parse_json(raw: dict[str, bytes], name: str) -> Any:
    try:
        value = json.loads(raw[name])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("invalid_json", f"{name} is not valid JSON: {exc}", name) from exc
    if not isinstance(value, dict):
        raise BundleError("invalid_json", f"{name} must hold a JSON object", name)
    return value


def _check_manifest(manifest: dict[str, Any], infos: dict[str, zipfile.ZipInfo], registry_version: int) -> None:
    if manifest.get("bundle_version") != BUNDLE_VERSION:
        raise BundleError("incompatible_version", f"bundle_version {manifest.get('bundle_version')!r} is not "
                                                  f"supported (this installation reads {BUNDLE_VERSION})", MANIFEST_FILE)
    needed = manifest.get("registry_version")
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < 1:
        raise BundleError("invalid_manifest", "registry_version must be a positive integer", MANIFEST_FILE)
    if needed > registry_version:
        raise BundleError("incompatible_version", f"the bundle needs layer registry version {needed}; this "
                                                  f"installation has version {registry_version}", MANIFEST_FILE)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError("invalid_manifest", "files must be an object of {name: {sha256}}", MANIFEST_FILE)
    for name in infos:
        if name == MANIFEST_FILE:
            continue
        entry = files.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise BundleError("unlisted_file", f"{name} is not listed with a sha256 in {MANIFEST_FILE}", name)
    for name in files:
        if name not in infos:
            raise BundleError("missing_file", f"{MANIFEST_FILE} lists {name} but the bundle has no such file", name)


def _check_safetensors(weights: bytes) -> None:
    from safetensors.torch import load as st_load

    try:
        st_load(weights)
    except Exception as exc:  # noqa: BLE001  (safetensors' own error types)
        raise BundleError("invalid_weights", f"{WEIGHTS_FILE} is not a readable safetensors file: {exc}",
                          WEIGHTS_FILE) from exc
