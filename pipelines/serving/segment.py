"""``predict`` for a CT segmentation model: a NIfTI volume in, its label mask out as a NIfTI file
on the upload's own voxel grid (shape, affine, orientation), so it overlays the upload in any viewer.

The volume goes through the model's recorded preprocessing (``preprocess.prepare``: reoriented to
RAS, or to the layout of the DICOM series an older model was trained on, resampled, windowed); the
predicted class ids come back through the same geometry inverted, nearest-neighbour, and are turned
back to the file's own axis order.

A 3-D model trained at a fixed ``spacing`` sees patches of ``volume_shape`` cut from the centre of
each volume. A volume larger than that patch at that spacing is not cropped (which would leave
everything outside the centre as background): MONAI's ``sliding_window_inference`` runs the model
over overlapping patches of the whole volume, blended with Gaussian weights."""
from __future__ import annotations

import gzip
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
from nibabel.orientations import io_orientation, ornt_transform

from pipelines.datasets.nifti import read_volume
from pipelines.datasets.nifti_masks import image_geometry, labels_to_source_grid
from pipelines.datasets.options import VolumeOptions
from pipelines.datasets.orientation import (
    RAS,
    layout_of,
    layout_to_ras,
    ras_to_layout,
    reorient,
    reoriented_grid,
)
from pipelines.datasets.report import BadFile
from pipelines.datasets.volume import resample

from .preprocess import SERVING_LIMITS, Upload, nifti_in_layout, prepare, to_model_input, volume_options
from .protocol import ProtocolError
from .runtime import LoadedModel

CONTENT_TYPE = "application/gzip"  # a gzipped NIfTI-1 file (.nii.gz)


@dataclass
class MaskAnswer:
    body: bytes  # the gzipped NIfTI mask
    shape: list[int]  # as the upload's header declares it (x, y, z)
    classes: list[str]
    voxels: dict[str, int]  # voxels of each class in the mask


def is_segmentation(model: LoadedModel) -> bool:
    return model.card.get("task") == "segmentation"


def predict_mask(model: LoadedModel, upload: Upload) -> MaskAnswer:
    """The label mask (uint8 class indices, classes as the card lists them) of ``upload``, a NIfTI
    volume. Raises ``ProtocolError`` (415 for another kind of file, 400 for a model it cannot serve)."""
    spec = (model.card.get("inputs") or [{}])[0]
    recipe = spec.get("preprocessing") or {}
    if recipe.get("input") != "ct":
        raise ProtocolError(400, "name", "predict returns masks for CT segmentation models; for images use infer",
                            "unsupported_model")
    if upload.kind != "nifti":
        raise ProtocolError(415, upload.field, "this model segments whole CT volumes: send one NIfTI file "
                            "(.nii or .nii.gz)", "volume_needed")
    batch = prepare(model.card, upload)  # every check and the preprocessing training saw
    options = volume_options(recipe)
    layout = layout_of(recipe)
    whole = _whole_volume(upload, options, layout)
    if whole is not None:
        batch, options = whole
        output = _sliding_window(model, batch, tuple(volume_options(recipe).volume_shape))
    else:
        output = np.asarray(model.infer([batch])[0])
    classes = [str(c) for c in model.card.get("classes") or []]
    if output.ndim != batch.ndim or output.shape[1] != len(classes):
        raise ProtocolError(400, "name", f"the model returns {list(output.shape)}, not one score per class "
                            f"({len(classes)}) per voxel; use infer", "unsupported_model")
    labels = output.argmax(1)
    grid = labels[0] if labels.ndim == 4 else labels  # a 3-D model: (1, D, H, W); a slice model: (D, H, W)
    with tempfile.TemporaryDirectory(prefix="vmb-mask-") as folder:
        path = Path(folder) / ("upload.nii.gz" if upload.gzipped else "upload.nii")
        path.write_bytes(upload.data)
        try:
            shape, canonical = image_geometry(path, SERVING_LIMITS)
            source: Any = nibabel.load(path)
        except BadFile as exc:
            raise ProtocolError(400, upload.field, exc.reason, exc.code) from exc
        spacing = tuple(float(v) for v in np.linalg.norm(canonical[:3, :3], axis=0)[::-1])
        mask = _to_source_grid(grid, shape, spacing, options, layout)  # type: ignore[arg-type]
        body = _nifti_like(source, canonical, mask)
    counts = np.bincount(mask.reshape(-1).astype(np.int64), minlength=len(classes))
    return MaskAnswer(body, [int(s) for s in source.shape[:3]], classes,
                      {name: int(counts[i]) for i, name in enumerate(classes)})


def _to_source_grid(grid: np.ndarray, shape: tuple[int, int, int], spacing: tuple[float, float, float],
                    options: VolumeOptions, layout: str) -> np.ndarray:
    """The model's class ids back on the upload's canonical (RAS) grid: the resampling inverted in
    the layout the model saw the volume in (a centre crop or pad by an odd count falls otherwise
    on a mirrored axis), then turned back to RAS."""
    if layout == RAS:
        return labels_to_source_grid(grid, shape, spacing, options)
    shape_in, spacing_in = reoriented_grid(shape, spacing, ras_to_layout(layout))
    mask = labels_to_source_grid(grid, shape_in, spacing_in, options)
    return reorient(mask, spacing_in, layout_to_ras(layout))[0]


def _whole_volume(upload: Upload, options: VolumeOptions, layout: str) -> tuple[np.ndarray, VolumeOptions] | None:
    """For a 3-D model with a fixed spacing: the whole upload at that spacing, windowed, padded
    with air to at least one patch (``(1, 1, D, H, W)``), and the options that describe that grid;
    ``None`` when the volume fits in one patch (``prepare``'s batch is then the whole volume)."""
    if options.mode != "3d" or options.spacing is None:
        return None
    with tempfile.TemporaryDirectory(prefix="vmb-mask-") as folder:
        path = Path(folder) / ("upload.nii.gz" if upload.gzipped else "upload.nii")
        path.write_bytes(upload.data)
        data, spacing = nifti_in_layout(*read_volume(path, SERVING_LIMITS), layout)
    size = [max(1, int(round(n * s / t))) for n, s, t in zip(data.shape, spacing, options.spacing, strict=True)]
    if all(have <= want for have, want in zip(size, options.volume_shape, strict=True)):
        return None
    grid = tuple(max(have, want) for have, want in zip(size, options.volume_shape, strict=True))
    whole = options.model_copy(update={"volume_shape": grid})
    return to_model_input(resample(data, spacing, whole), whole)[None, None], whole


def _sliding_window(model: LoadedModel, batch: np.ndarray, patch: tuple[int, ...]) -> np.ndarray:
    """Class scores ``(1, C, D, H, W)`` for a volume larger than the model's ``patch``: the model on
    overlapping patches (a quarter overlap), blended with Gaussian weights, by MONAI."""
    import torch
    from monai.inferers.utils import sliding_window_inference  # a heavy import: only when a volume needs it

    def predictor(window: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(model.infer([window.numpy().astype(np.float32)])[0]))

    with torch.no_grad():
        out = sliding_window_inference(torch.from_numpy(batch), roi_size=patch, sw_batch_size=1,
                                       predictor=predictor, overlap=0.25, mode="gaussian")
    return np.asarray(out.numpy() if isinstance(out, torch.Tensor) else out)


def _nifti_like(source: Any, canonical: np.ndarray, mask: np.ndarray) -> bytes:
    """``mask`` (D, H, W on the canonical RAS grid) as gzipped NIfTI bytes in ``source``'s own axis
    order, affine and units."""
    image = nibabel.Nifti1Image(np.ascontiguousarray(mask.transpose(2, 1, 0)).astype(np.uint8), canonical)
    back = image.as_reoriented(ornt_transform(io_orientation(canonical), io_orientation(source.affine)))
    out = nibabel.Nifti1Image(np.asarray(back.dataobj, dtype=np.uint8), source.affine)
    header = source.header
    out.set_qform(source.affine, code=int(header["qform_code"]) or 1)
    out.set_sform(source.affine, code=int(header["sform_code"]) or 1)
    out.header.set_xyzt_units(*header.get_xyzt_units())
    out.header["descrip"] = b"label mask: class index per voxel"
    return gzip.compress(out.to_bytes(), compresslevel=6)
