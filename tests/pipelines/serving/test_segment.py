"""predict for a CT segmentation model: a NIfTI volume in, a NIfTI label mask out on the upload's
own grid (shape, affine, axis order), read back with nibabel."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import pytest
import torch

from pipelines.export.package import ModelPackage, load_package, make_card, save_package
from pipelines.serving.preprocess import sniff
from pipelines.serving.protocol import ProtocolError
from pipelines.serving.runtime import load_model
from pipelines.serving.segment import predict_mask
from tests.pipelines.serving import helpers


def threshold_model(tmp_path: Path, mode: str = "3d", spacing: list[float] | None = None,
                    recipe_extra: dict[str, Any] | None = None) -> Any:
    """A 1x1 convolution that calls a voxel "lesion" above 65% of the lung window (about -375 HU):
    a known answer, so the test checks the geometry rather than learning."""
    from builder.graph import compile_graph

    volume = mode == "3d"
    first = ({"id": "ct", "type": "volume_input", "params": {"channels": 1, "depth": 8, "height": 16, "width": 16}}
             if volume else {"id": "ct", "type": "image_input", "params": {"channels": 1, "height": 16, "width": 16}})
    document = {"schema_version": 1, "name": "seg", "nodes": [
        first, {"id": "mask_logits", "type": "conv3d" if volume else "conv2d",
                "params": {"out_channels": 2, "kernel_size": 1}}],
        "edges": [{"source": "ct", "target": "mask_logits"}]}
    weights = compile_graph(document).state_dict()
    weights["mask_logits.weight"] = torch.tensor([-10.0, 10.0]).reshape(2, 1, *([1] * (3 if volume else 2)))
    weights["mask_logits.bias"] = torch.tensor([6.5, -6.5])
    recipe = {**helpers.ct_recipe(mode), "spacing": spacing, "task": "segmentation", "target": "mask",
              **(recipe_extra or {})}
    card = make_card(document, name="seg", task="segmentation", classes=["background", "lesion"],
                     preprocessing=recipe)
    return load_model(save_package(ModelPackage(document, weights, card), tmp_path / "model"))


def upload(affine: np.ndarray, shape: tuple[int, int, int] = (20, 18, 10)) -> tuple[bytes, np.ndarray]:
    volume = np.full(shape, -800, np.int16)
    box = np.zeros(shape, bool)
    box[3:15, 4:14, 2:8] = True
    volume[box] = 40
    return gzip.compress(nibabel.Nifti1Image(volume, affine).to_bytes()), box


def read(body: bytes) -> Any:
    return nibabel.Nifti1Image.from_bytes(gzip.decompress(body))


# RAS, and LPS-like (x and y flipped), so the mask must be turned back to the file's own axes.
AFFINES = [np.diag([0.8, 0.7, 2.5, 1.0]), np.array([[-0.8, 0, 0, 40], [0, -0.7, 0, 30], [0, 0, 2.5, -10], [0, 0, 0, 1]])]


@pytest.mark.parametrize("affine", AFFINES)
@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_the_mask_lies_on_the_uploads_grid(tmp_path: Path, affine: np.ndarray, mode: str) -> None:
    model = threshold_model(tmp_path, mode)
    data, box = upload(affine)
    answer = predict_mask(model, sniff(data, "file"))
    mask = read(answer.body)
    assert mask.shape == box.shape and answer.shape == list(box.shape)
    np.testing.assert_allclose(mask.affine, affine)
    labels = np.asarray(mask.dataobj)
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 1}
    found = labels == 1
    # 20x18x10 -> 16x16x8 (trilinear, then thresholded) -> back (nearest): an edge may move a voxel.
    assert (found & box).sum() / (found | box).sum() > 0.7
    assert answer.voxels == {"background": int((labels == 0).sum()), "lesion": int(found.sum())}


def test_recorded_spacing_crops_and_pads_back(tmp_path: Path) -> None:
    model = threshold_model(tmp_path, "3d", spacing=[2.5, 1.0, 1.0])
    data, box = upload(AFFINES[0])
    labels = np.asarray(read(predict_mask(model, sniff(data, "file")).body).dataobj)
    assert labels.shape == box.shape
    found = labels == 1
    assert (found & box).sum() / (found | box).sum() > 0.7


def test_a_segmentation_model_refuses_other_files(tmp_path: Path) -> None:
    model = threshold_model(tmp_path)
    with pytest.raises(ProtocolError) as caught:
        predict_mask(model, sniff(helpers.png(np.zeros((8, 8), np.uint8)), "file"))
    assert caught.value.status == 415 and caught.value.field == "file"
    assert load_package(tmp_path / "model").card["task"] == "segmentation"


def test_a_volume_larger_than_the_patch_is_segmented_whole_by_sliding_window(tmp_path: Path) -> None:
    # At the recorded spacing the volume is 10x40x48 voxels, the model's patch 8x16x16: a centre
    # crop would leave the lesion at the edge as background; MONAI's sliding window covers it.
    model = threshold_model(tmp_path, "3d", spacing=[2.5, 1.0, 1.0])
    shape = (48, 40, 10)
    volume = np.full(shape, -800, np.int16)
    edge, centre = np.zeros(shape, bool), np.zeros(shape, bool)
    edge[1:9, 2:12, 1:9] = True
    centre[20:28, 16:26, 3:7] = True
    volume[edge | centre] = 40
    data = gzip.compress(nibabel.Nifti1Image(volume, np.diag([1.0, 1.0, 2.5, 1.0])).to_bytes())
    answer = predict_mask(model, sniff(data, "file"))
    labels = np.asarray(read(answer.body).dataobj)
    assert labels.shape == shape
    # The spacing is the volume's own, so nothing is interpolated: both lesions come back exactly.
    assert np.array_equal(labels == 1, edge | centre)


@pytest.mark.parametrize("spacing", [None, [2.5, 1.0, 1.0]])
def test_a_model_trained_on_dicom_as_stored_gets_its_mask_back_on_the_uploads_grid(tmp_path: Path,
                                                                                   spacing: list[float] | None) -> None:
    """A recipe from before the layout was recorded, of a DICOM dataset: the NIfTI is turned to a
    stored axial series' axes for the model, and its mask turned back onto the upload's grid."""
    legacy = threshold_model(tmp_path / "legacy", "3d", spacing, {"kind": "ct_dicom"})
    shape = (20, 18, 10)
    volume = np.full(shape, -800, np.int16)
    box = np.zeros(shape, bool)
    box[2:9, 3:10, 2:7] = True  # in a corner: mirrored left-right and front-back it lies elsewhere
    volume[box] = 40
    mirrored = box[::-1, ::-1]
    assert not (box & mirrored).any()
    data = gzip.compress(nibabel.Nifti1Image(volume, AFFINES[1]).to_bytes())
    found = np.asarray(read(predict_mask(legacy, sniff(data, "file")).body).dataobj) == 1
    assert (found & box).sum() / (found | box).sum() > 0.6  # 20x18x10 -> 16x16x8 -> back moves edges
    assert not (found & mirrored).any()
