"""A file or a table row turned into the model's input tensor with the model's OWN preprocessing:
the recipe its dataset was ingested with (recorded on the card) applied through the same readers
and transforms as ingest and training (``pipelines/datasets``), so a served prediction sees what
training saw. Nothing here trusts the upload: the kind is sniffed from magic bytes, headers and
sizes are checked before pixels or voxels are decoded, and every refusal is a ``ProtocolError``.
"""
from __future__ import annotations

import gzip
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.datasets import dicom, images, nifti
from pipelines.datasets.limits import Limits
from pipelines.datasets.options import VolumeOptions, Window
from pipelines.datasets.orientation import (
    RAS,
    STORED,
    dicom_ornt,
    dicom_to_ras,
    layout_of,
    ras_to_layout,
    reorient,
)
from pipelines.datasets.report import BadFile
from pipelines.datasets.tables import encode_row
from pipelines.datasets.volume import HU_RANGE, apply_window, resample
from pipelines.training.data import resize_to

from .protocol import ProtocolError
from .series import read_series_zip

# Tighter than ingest's caps: one request must not pin a serving process.
SERVING_LIMITS = Limits(max_image_pixels=40_000_000, max_volume_voxels=64_000_000)
MAX_ROW_COLUMNS = 10_000
FILE_KINDS = ("image", "dicom", "dicom_zip", "nifti")
# Which uploads a model trained on each dataset input takes.
ACCEPTS = {"image": ("image",), "ct": ("dicom_zip", "dicom", "nifti"), "table": ("row",)}
DECLARED = {"image/png": "image", "image/jpeg": "image", "image/jpg": "image", "application/dicom": "dicom",
            "application/x-nifti": "nifti", "application/gzip": "nifti", "application/x-gzip": "nifti",
            "application/zip": "dicom_zip", "application/x-zip-compressed": "dicom_zip"}
KIND_NAMES = {"image": "PNG/JPEG file", "dicom": "DICOM slice", "dicom_zip": "zip of one DICOM series",
              "nifti": "NIfTI file", "row": "table row"}


@dataclass
class Upload:
    """What a predict request carried: a file's bytes (``kind`` sniffed) or a table row."""

    kind: str  # image, dicom, dicom_zip, nifti or row
    field: str  # the request part it came from, for error messages
    data: bytes = b""
    row: dict[str, Any] | None = None
    gzipped: bool = False
    filename: str = ""  # as the client named the file (a multipart part's filename), for error messages


@dataclass
class Prepared:
    """The model's input batch, and what the preprocessing has to say about it (a DICOM series'
    geometry warnings, as the ingest lists them at the series)."""

    batch: np.ndarray
    warnings: list[dict[str, Any]]


def sniff(data: bytes, field: str, declared: str = "", filename: str = "") -> Upload:
    """The kind of an uploaded file from its magic bytes; a declared Content-Type must agree."""
    gzipped = data[:2] == b"\x1f\x8b"
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff":
        kind = "image"
    elif data[128:132] == b"DICM":
        kind = "dicom"
    elif data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip (an empty one starts at its end record)
        kind = "dicom_zip"
    elif gzipped or _nifti_header(data):
        kind = "nifti"
    else:
        raise ProtocolError(415, field, "not a PNG, JPEG, DICOM (Part 10, 'DICM' at byte 128), zip of a DICOM "
                            "series or NIfTI-1 file", "unsupported_file")
    expected = DECLARED.get(declared.split(";")[0].strip().lower())
    if expected is not None and expected != kind:
        raise ProtocolError(415, field, f"declared as {declared} but the content is a {KIND_NAMES[kind]}",
                            "type_mismatch")
    return Upload(kind, field, data, gzipped=gzipped, filename=filename)


def _nifti_header(data: bytes) -> bool:
    sizes = (int.from_bytes(data[:4], "little"), int.from_bytes(data[:4], "big"))
    return len(data) >= 352 and 348 in sizes and data[344:347] in (b"n+1", b"ni1")


def parse_row(body: Any) -> Upload:
    """``{"row": {column: value}}`` with scalar values, as an upload."""
    if not isinstance(body, dict) or not isinstance(body.get("row"), dict):
        raise ProtocolError(400, "row", 'send {"row": {"<column>": <value>, ...}}', "invalid_row")
    row = body["row"]
    if len(row) > MAX_ROW_COLUMNS:
        raise ProtocolError(400, "row", f"{len(row)} columns; at most {MAX_ROW_COLUMNS}", "invalid_row")
    for column, value in row.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ProtocolError(400, f"row.{column}", "must be a string, a number or null", "invalid_row")
    return Upload("row", "row", row=row)


def prepare(card: dict[str, Any], upload: Upload) -> np.ndarray:
    """The batch (first axis) the model's single input takes, made from ``upload`` with the card's
    recorded preprocessing. A slice model given a volume gets one sample per slice."""
    return prepare_with_warnings(card, upload).batch


def prepare_with_warnings(card: dict[str, Any], upload: Upload) -> Prepared:
    """``prepare``, with the warnings the preprocessing gave (a DICOM series' geometry)."""
    if len(card.get("inputs", [])) != 1:
        raise ProtocolError(400, "name", "predict serves models with one input; use infer", "unsupported_model")
    spec = card["inputs"][0]
    recipe = spec.get("preprocessing") or {}
    source = recipe.get("input") or ("image" if len(spec["shape"]) == 4 else "")
    accepted = ACCEPTS.get(source)
    if accepted is None:
        raise ProtocolError(400, "name", f"predict does not serve {source or 'this'} models; use infer",
                            "unsupported_model")
    if upload.kind not in accepted:
        wanted = " or ".join(f"a {KIND_NAMES[a]}" for a in accepted)
        raise ProtocolError(415, upload.field, f"this model takes {wanted}, not a {KIND_NAMES[upload.kind]}",
                            "wrong_input_kind")
    warnings: list[dict[str, Any]] = []
    if upload.kind == "row":
        array = _row(recipe, upload.row or {})
    else:
        # Everything of the upload (a zip's extracted series included) lives in this folder only.
        with tempfile.TemporaryDirectory(prefix="vmb-predict-") as folder:
            suffix = {"image": ".img", "dicom": ".dcm", "dicom_zip": ".zip",
                      "nifti": ".nii.gz" if upload.gzipped else ".nii"}[upload.kind]
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(upload.data)
            try:
                if upload.kind == "dicom_zip":
                    array, warnings = _dicom_zip(recipe, path, upload)
                else:
                    array = {"image": _image, "dicom": _dicom, "nifti": _nifti}[upload.kind](recipe, spec, path)
            except BadFile as exc:
                raise ProtocolError(400, upload.field, exc.reason, exc.code) from exc
    expected = spec["shape"][1:]
    if list(array.shape[1:]) != list(expected):
        raise ProtocolError(400, upload.field, f"preprocessing gave {list(array.shape[1:])}, the model takes "
                            f"{expected}: the model's recorded preprocessing does not fit its input", "shape_mismatch")
    batch = np.ascontiguousarray(array, dtype=np.int64 if spec["datatype"] == "INT64" else np.float32)
    return Prepared(batch, warnings)


def _image(recipe: dict[str, Any], spec: dict[str, Any], path: Path) -> np.ndarray:
    channels, height, width = spec["shape"][1:]
    size = tuple(recipe.get("size") or (height, width))
    images.probe(path, SERVING_LIMITS)
    pixels = images.decode(path, SERVING_LIMITS, size, int(recipe.get("channels") or channels))  # type: ignore[arg-type]
    # Ingest stores 8-bit and the loader scales by 1/255: round through uint8 to match exactly.
    batch = torch.from_numpy((np.round(pixels * 255.0) / np.float32(255.0)).astype(np.float32))[None]
    transform = resize_to(tuple(recipe["resize"]) if recipe.get("resize") else (height, width))
    return transform(batch).numpy()


def volume_options(recipe: dict[str, Any], *, depth: int | None = None,
                    z_spacing: float | None = None) -> VolumeOptions:
    shape = list(recipe.get("volume_shape") or ())
    if len(shape) != 3:
        raise ProtocolError(400, "name", "the model card records no CT volume_shape", "bad_card")
    spacing = list(recipe["spacing"]) if recipe.get("spacing") else None
    if depth is not None:  # a single slice stays a single slice
        shape[0] = depth
        if spacing is not None and z_spacing:
            spacing[0] = z_spacing
    window = {k: v for k, v in (recipe.get("window") or {}).items() if k in ("preset", "center", "width")}
    return VolumeOptions.model_validate({"volume_shape": shape, "spacing": spacing, "window": window,
                                         "mode": recipe.get("mode", "3d")})


def to_model_input(hu: np.ndarray, options: VolumeOptions) -> np.ndarray:
    # The cache holds whole HU clipped to the CT range in int16; the loader then windows to [0, 1].
    stored = np.clip(hu, *HU_RANGE).round().astype(np.int16)
    return apply_window(stored, Window.from_recipe(options.window.model_dump()))


def _dicom(recipe: dict[str, Any], spec: dict[str, Any], path: Path) -> np.ndarray:
    if recipe.get("mode", "3d") != "2d":
        raise ProtocolError(415, "file", "this model takes a whole CT volume: send the series as one zip, or "
                            "one NIfTI file", "volume_needed")
    header = dicom.read_header(path, path.name, SERVING_LIMITS)
    hu = dicom.read_slice(header, path)
    options = volume_options(recipe, depth=1, z_spacing=header.thickness or 1.0)
    spacing: tuple[float, float, float] = (header.thickness or 1.0, *header.pixel_spacing)
    layout = layout_of(recipe)
    if layout != STORED and dicom_ornt(header.orientation)[2, 0] != 2:
        # A coronal or sagittal slice would become a volume one voxel thick across: a slice model
        # takes it as stored (it was trained on axial planes of the turned volumes).
        layout = STORED
    slab, spacing = dicom_in_layout(hu[None], spacing, header.orientation, layout)
    volume = resample(slab, spacing, options)
    return to_model_input(volume, options)[:, None]  # (1 slice, 1 channel, H, W)


def _nifti(recipe: dict[str, Any], spec: dict[str, Any], path: Path) -> np.ndarray:
    if path.suffix == ".gz":
        _check_gzip(path)
    data, spacing = nifti_in_layout(*nifti.read_volume(path, SERVING_LIMITS), layout_of(recipe))
    options = volume_options(recipe)
    return _volume_batch(data, spacing, options)


def nifti_in_layout(data: np.ndarray, spacing: tuple[float, float, float],
                    layout: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A NIfTI volume (read on RAS axes) in the layout the model was trained in (``layout_of``):
    unchanged for RAS; a model trained on DICOM series before the layout was recorded saw them as
    stored, so it gets the volume as a plain axial series is stored."""
    if layout == RAS:
        return data, spacing
    return reorient(data, spacing, ras_to_layout(layout))


def dicom_in_layout(hu: np.ndarray, spacing: tuple[float, float, float], orientation: tuple[float, ...] | None,
                    layout: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A DICOM stack as stored (slices along the normal, rows, columns) in the model's layout: as
    stored for a model trained before the layout was recorded, else turned by its geometry to RAS
    (and on to the recorded layout)."""
    if layout == STORED:
        return hu, spacing
    return nifti_in_layout(*dicom_to_ras(hu, spacing, orientation), layout)


def _dicom_zip(recipe: dict[str, Any], path: Path, upload: Upload) -> tuple[np.ndarray, list[dict[str, Any]]]:
    options = volume_options(recipe)
    shown = upload.filename or "the zip"
    series = read_series_zip(path, shown, upload.field, options, SERVING_LIMITS)
    if options.mode != "2d" and series.slices < 2:
        raise ProtocolError(400, upload.field, f"'{shown}': its series has {series.slices} slice; this model takes "
                            "a whole CT volume: send every slice of the series", "series_too_short")
    hu, spacing = dicom_in_layout(series.hu, series.spacing, series.orientation, layout_of(recipe))
    return _volume_batch(hu, spacing, options), series.warnings


def _volume_batch(hu: np.ndarray, spacing: tuple[float, float, float], options: VolumeOptions) -> np.ndarray:
    """A volume in HU as the ingest caches it (resampled, clipped, whole HU), windowed as training
    loads it: every slice for a slice model (D, 1, H, W), else one volume (1, 1, D, H, W)."""
    window = to_model_input(resample(hu, spacing, options), options)
    if options.mode == "2d":
        return window[:, None]
    return window[None, None]


def _check_gzip(path: Path) -> None:
    """A gzip that inflates past the voxel cap is refused before nibabel reads it whole."""
    cap = SERVING_LIMITS.max_volume_voxels * 8 + (1 << 20)  # float64 voxels plus the header
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                total += len(chunk)
                if total > cap:
                    raise BadFile("volume_too_large", f"inflates to more than {cap} bytes")
    except (OSError, EOFError) as exc:
        raise BadFile("not_nifti", f"not a readable gzip file: {exc}") from exc


def _row(recipe: dict[str, Any], row: dict[str, Any]) -> np.ndarray:
    encoding = recipe.get("encoding")
    if not isinstance(encoding, dict):
        raise ProtocolError(400, "name", "the model card records no table encoding", "bad_card")
    known = {f["column"] for f in encoding["features"]}
    unknown = sorted(set(row) - known - {encoding.get("target", {}).get("column")})
    if unknown:
        raise ProtocolError(400, f"row.{unknown[0]}", f"unknown column; the model takes {sorted(known)}",
                            "unknown_column")
    for key, value in row.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(400, f"row.{key}", "must be a finite number", "invalid_row")
    # The encoding was learnt from CSV text: values go back to text the way a CSV holds them.
    text = {k: "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in row.items()}
    return encode_row(encoding, text)[None]
