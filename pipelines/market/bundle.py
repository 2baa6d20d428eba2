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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
GRAPH_FILE = "graph.json"
CARD_FILE = "card.json"
WEIGHTS_FILE = "weights.safetensors"
BUNDLE_VERSION = 1
KNOWN_MEMBERS = (MANIFEST_FILE, GRAPH_FILE, CARD_FILE, WEIGHTS_FILE)
MAX_JSON_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 4 << 30
CHUNK = 1 << 20
# A zip held in memory, or a path to one (an upload spooled to disk).
Source = bytes | Path


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

    @property
    def lists_weights(self) -> bool:
        """The manifest lists a weights member (true of a trained model even before it is read)."""
        return WEIGHTS_FILE in self.manifest.get("files", {})


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


def _open(source: Source) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except zipfile.BadZipFile as exc:
        raise BundleError("not_a_zip", f"the file is not a zip archive: {exc}") from exc


def inspect_bundle(source: Source, *, known_layer_types: Collection[str], registry_version: int) -> MarketBundle:
    """Check everything but the weights: member names and sizes, the manifest, ``graph.json`` and
    ``card.json`` (parsed, against their SHA-256) and the layer types. The weights member is not
    read (``weights`` is None; ``lists_weights`` says whether there is one), so this costs at most
    the JSON members' size. Raises ``BundleError`` for the first problem found."""
    with _open(source) as zf:
        infos = _checked_members(zf)
        manifest = _json(zf, infos, MANIFEST_FILE)
        _check_manifest(manifest, infos, registry_version)
        raw = {name: _read(zf, infos[name]) for name in infos if name not in (MANIFEST_FILE, WEIGHTS_FILE)}
    for name, blob in raw.items():
        _check_sum(manifest, name, sha256(blob))
    document = _parse_json(raw, GRAPH_FILE)
    card = _parse_json(raw, CARD_FILE)
    unknown = [t for t in layer_types(document) if t not in known_layer_types]
    if unknown:
        raise BundleError("unknown_layer_type", f"{GRAPH_FILE} uses layer types this installation does not "
                                                f"have: {', '.join(unknown)}", GRAPH_FILE)
    return MarketBundle(document, card, int(manifest["registry_version"]), None, manifest)


def extract_weights(source: Source, dest: Path, manifest: dict[str, Any],
                    progress: Callable[[float], None] | None = None) -> dict[str, tuple[int, ...]]:
    """Stream the weights member to ``dest`` (never whole in memory), check it against the
    manifest's SHA-256, and read its safetensors header: the tensors' names and shapes, with no
    tensor loaded. ``progress`` gets the fraction copied. Raises ``BundleError``."""
    digest = hashlib.sha256()
    with _open(source) as zf:
        info = _checked_members(zf)[WEIGHTS_FILE]
        done = 0
        try:
            with zf.open(info) as member, open(dest, "wb") as out:
                while chunk := member.read(CHUNK):
                    done += len(chunk)
                    if done > info.file_size:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(done / max(info.file_size, 1))
        except (zipfile.BadZipFile, ValueError, NotImplementedError) as exc:
            raise BundleError("unreadable", f"{WEIGHTS_FILE} cannot be read: {exc}", WEIGHTS_FILE) from exc
        if done != info.file_size:
            raise BundleError("unreadable", f"{WEIGHTS_FILE} is not the size its zip entry says", WEIGHTS_FILE)
    _check_sum(manifest, WEIGHTS_FILE, digest.hexdigest())
    return safetensors_shapes(dest)


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of a safetensors file's tensors, from its header alone (the library checks
    that the header's offsets cover the file exactly). Raises ``BundleError("invalid_weights")``."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}  # noqa: SIM118
    except Exception as exc:  # noqa: BLE001  (safetensors' own error types)
        raise BundleError("invalid_weights", f"{WEIGHTS_FILE} is not a readable safetensors file: {exc}",
                          WEIGHTS_FILE) from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_bundle(data: Source, *, known_layer_types: Collection[str], registry_version: int) -> MarketBundle:
    """Read and check a whole bundle, weights included, in memory. Raises ``BundleError`` for the
    first problem found.

    ``known_layer_types`` are the type ids registered here; ``registry_version`` is this
    installation's registry version (a bundle made by a newer registry is refused).
    """
    bundle = inspect_bundle(data, known_layer_types=known_layer_types, registry_version=registry_version)
    if bundle.lists_weights:
        with _open(data) as zf:
            weights = _read(zf, _checked_members(zf)[WEIGHTS_FILE])
        _check_sum(bundle.manifest, WEIGHTS_FILE, sha256(weights))
        _check_safetensors(weights)
        bundle.weights = weights
    return bundle


def _check_sum(manifest: dict[str, Any], name: str, digest: str) -> None:
    if digest != manifest["files"][name]["sha256"]:
        raise BundleError("checksum_mismatch", f"{name} does not match the SHA-256 in {MANIFEST_FILE}; "
                                               "the bundle was changed after it was made", name)


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


def graph_state_shapes(document: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The names and shapes of the state dict the graph compiles to, built on the ``meta`` device:
    no parameter gets memory, so a graph near the size cap costs what a small one does. Raises
    ``GraphError`` for an invalid graph."""
    import torch

    from builder.graph import compile_graph

    with torch.device("meta"):
        module = compile_graph(document)
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
