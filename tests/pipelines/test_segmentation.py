"""Images with masks: pairing by name, class files, and every bad or unmatched file skipped by
name; the cache, stats and previews; augmentation moves image and mask together."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.datasets.augment import AugmentationSettings, augment_pair
from pipelines.datasets.cache import open_inputs, open_masks, read_recipe
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.loader import CachedDataset
from pipelines.datasets.preview import render_png
from pipelines.datasets.report import IngestError
from pipelines.datasets.samples import shape_pair, write_sample
from pipelines.datasets.split_preview import preview_split
from tests.dataset_factories import array_png, bomb_png, png_bytes, seg_pair, segmentation_zip, write_zip


def test_good_set_with_a_classes_json(tmp_path: Path, work: Path) -> None:
    result = ingest("segmentation", segmentation_zip(tmp_path / "s.zip", pairs=10), "s.zip", work, {"seed": 1})
    assert result.task == "segmentation" and result.skipped == []
    assert result.classes == ["background", "road", "car"]
    inputs, masks = open_inputs(work / "cache"), open_masks(work / "cache")
    assert inputs.shape == (10, 3, 12, 16) and inputs.dtype == np.uint8
    assert masks.shape == (10, 12, 16) and masks.dtype == np.uint8
    assert np.array_equal(masks[3], seg_pair(3)[1])  # ids 0..2 map to indices 0..2
    assert result.recipe["target"] == "mask" and result.recipe["class_map"]["ids"] == [0, 1, 2]
    share = result.stats["pixel_share"]
    assert share["background"] == pytest.approx(5 / 6, abs=1e-5)
    assert share["road"] + share["car"] == pytest.approx(1 / 6, abs=1e-5)
    assert set(result.stats["pixel_share_per_split"]) == {"train", "val", "test"}
    assert result.stats["class_presence"] == {"background": 10, "road": 5, "car": 5}
    # per split, the samples holding each class (the dataset page's "patients with a lesion")
    per_split = result.stats["samples_with_class_per_split"]
    assert {name: sum(per_split[split][name] for split in ("train", "val", "test"))
            for name in result.classes} == result.stats["class_presence"]
    assert per_split["train"]["background"] == result.stats["split_counts"]["train"]
    assert result.samples[1]["meta"]["classes_present"] == ["background", "car"]
    assert result.samples[1]["meta"]["mask"] == "seg/masks/01.png"
    # stratified on the rarest class present: both kinds of mask reach validation and test
    splits = {(s["split"], s["label"]) for s in result.samples}
    assert ("train", "background+road") in splits and ("train", "background+car") in splits


def test_without_classes_file_the_values_are_the_classes(tmp_path: Path, work: Path) -> None:
    archive = segmentation_zip(tmp_path / "s.zip", pairs=6, classes=None)
    result = ingest("segmentation", archive, "s.zip", work, {"image_size": [6, 8]})
    assert result.classes == ["0", "1", "2"] and result.recipe["class_map"]["mode"] == "values"
    masks = open_masks(work / "cache")
    assert masks.shape == (6, 6, 8) and set(np.unique(masks)) == {0, 1, 2}  # resized nearest: no blends


def test_colour_masks_with_a_classes_csv(tmp_path: Path, work: Path) -> None:
    colours = {0: (0, 0, 0), 1: (255, 0, 0), 2: (0, 0, 255)}
    members = {}
    for i in range(6):
        image, mask = seg_pair(i)
        rgb = np.zeros((*mask.shape, 3), np.uint8)
        for value, colour in colours.items():
            rgb[mask == value] = colour
        members[f"images/{i}.png"], members[f"masks/{i}.png"] = image, array_png(rgb)
    members["classes.csv"] = b"name,color\nsky,#000000\nsun,#ff0000\nsea,#0000ff\n"
    result = ingest("segmentation", write_zip(tmp_path / "c.zip", members), "c.zip", work, {})
    assert result.classes == ["sky", "sun", "sea"] and result.skipped == []
    assert np.array_equal(open_masks(work / "cache")[1], seg_pair(1)[1])
    assert result.recipe["palette"][1] == [255, 0, 0]


def test_bad_and_unmatched_files_are_skipped_by_name(tmp_path: Path, work: Path, small_limits: object) -> None:
    wrong_values = seg_pair(0)[1].copy()
    wrong_values[0, 0] = 7
    extra = {
        "seg/images/lonely.png": png_bytes((16, 12)),  # no mask
        "seg/masks/orphan.png": array_png(np.zeros((12, 16), np.uint8)),  # no image
        "seg/images/small.png": png_bytes((16, 12)),
        "seg/masks/small.png": array_png(np.zeros((6, 8), np.uint8)),  # 8x6 mask for a 16x12 image
        "seg/images/seven.png": png_bytes((16, 12)),
        "seg/masks/seven.png": array_png(wrong_values),  # 7 is not a class id
        "seg/images/broken.png": png_bytes((16, 12)),
        "seg/masks/broken.png": array_png(np.zeros((12, 16), np.uint8))[:40],  # truncated
        "seg/images/lossy.png": png_bytes((16, 12)),
        "seg/masks/lossy.jpg": array_png(np.zeros((12, 16), np.uint8), "JPEG"),
        "seg/images/huge.png": png_bytes((16, 12)),
        "seg/masks/huge.png": bomb_png(),
        "seg/notes.txt": b"hello",
    }
    result = ingest("segmentation", segmentation_zip(tmp_path / "b.zip", pairs=6, extra=extra), "b.zip", work,
                    {}, small_limits)  # type: ignore[arg-type]
    codes = {s["file"]: s["code"] for s in result.skipped}
    assert codes == {
        "seg/images/lonely.png": "missing_mask", "seg/masks/orphan.png": "missing_image",
        "seg/masks/small.png": "mask_size_mismatch", "seg/images/small.png": "partner_skipped",
        "seg/masks/seven.png": "invalid_mask_value", "seg/images/seven.png": "partner_skipped",
        "seg/masks/broken.png": codes["seg/masks/broken.png"], "seg/images/broken.png": "partner_skipped",
        "seg/masks/lossy.jpg": "lossy_mask", "seg/images/lossy.png": "missing_mask",
        "seg/masks/huge.png": "image_too_large", "seg/images/huge.png": "partner_skipped",
        "seg/notes.txt": "unsupported_type",
    }
    assert codes["seg/masks/broken.png"] in ("corrupt_mask", "unreadable_image")
    reasons = {s["file"]: s["reason"] for s in result.skipped}
    assert "7" in reasons["seg/masks/seven.png"] and "8x6" in reasons["seg/masks/small.png"]
    assert len(result.samples) == 6 and open_masks(work / "cache").shape[0] == 6


def test_mask_values_outside_num_classes_are_refused(tmp_path: Path, work: Path) -> None:
    archive = segmentation_zip(tmp_path / "n.zip", pairs=4, classes=None)
    result = ingest("segmentation", archive, "n.zip", work, {"num_classes": 2})
    assert {s["code"] for s in result.skipped} == {"invalid_mask_value", "partner_skipped"}
    assert result.classes == ["0", "1"] and len(result.samples) == 2  # only the masks of ids 0 and 1


@pytest.mark.parametrize("classes, needle", [
    (b"{not json", "JSON"),
    (b'{"a": 0, "b": 0}', "same id"),
    (b'{"a": 0, "b": "#ff0000"}', "every class"),
    (b'["only"]', "between 2"),
])
def test_a_bad_classes_file_fails_naming_it(tmp_path: Path, work: Path, classes: bytes, needle: str) -> None:
    with pytest.raises(IngestError) as caught:
        ingest("segmentation", segmentation_zip(tmp_path / "x.zip", classes=classes), "x.zip", work, {})
    assert caught.value.code == "bad_classes_file" and caught.value.file == "seg/classes.json"
    assert needle in caught.value.reason


def test_no_pairs_is_an_error(tmp_path: Path, work: Path) -> None:
    archive = write_zip(tmp_path / "f.zip", {"cats/a.png": png_bytes(), "cats/b.png": png_bytes()})
    with pytest.raises(IngestError) as caught:
        ingest("segmentation", archive, "f.zip", work, {})
    assert caught.value.code == "no_image_mask_pairs"
    assert {s.file for s in caught.value.report.skipped} == {"cats/a.png", "cats/b.png"}  # type: ignore[union-attr]


def _foreground_image(mask: torch.Tensor) -> torch.Tensor:
    """A one-channel image that is 1 where the mask has a shape: aligned when they still agree."""
    return (mask > 0).float().unsqueeze(0)


@pytest.mark.parametrize("settings", [
    {"flip_horizontal": True, "flip_vertical": True},
    {"rotate_degrees": 40},
    {"crop_scale": 0.5},
    {"flip_horizontal": True, "rotate_degrees": 30, "crop_scale": 0.6, "intensity_jitter": 0.0},
])
def test_augmentation_keeps_image_and_mask_aligned(settings: dict[str, object]) -> None:
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    parsed = AugmentationSettings.model_validate(settings)
    changed = False
    for _ in range(8):
        mask = torch.from_numpy(shape_pair(rng, 48)[1].astype(np.int64))
        image, out = augment_pair(_foreground_image(mask), mask, parsed, generator)
        assert out is not None and out.dtype == torch.int64 and out.shape == mask.shape
        assert set(out.unique().tolist()) <= set(mask.unique().tolist())  # nearest: no blended class ids
        agree = float(((image[0] > 0.5) == (out > 0)).float().mean())
        # a bilinear image edge may fall a pixel off the nearest mask's; everything else agrees
        exact = "rotate_degrees" not in settings and "crop_scale" not in settings
        assert agree == 1.0 if exact else agree > 0.97
        changed = changed or not torch.equal(out, mask)
    assert changed


def test_intensity_jitter_changes_the_image_only() -> None:
    mask = torch.from_numpy(shape_pair(np.random.default_rng(1), 32)[1].astype(np.int64))
    image = _foreground_image(mask) + 0.1
    out_image, out_mask = augment_pair(image, mask, AugmentationSettings(intensity_jitter=0.5),
                                       torch.Generator().manual_seed(3))
    assert torch.equal(out_mask, mask) and not torch.allclose(out_image, image)  # type: ignore[arg-type]


def test_loader_returns_masks_and_batches_match_samples(tmp_path: Path, work: Path) -> None:
    ingest("segmentation", segmentation_zip(tmp_path / "s.zip", pairs=10), "s.zip", work, {"val_fraction": 0.0,
                                                                                             "test_fraction": 0.0})
    plain = CachedDataset(work / "cache", "train")
    x, y = plain[2]
    assert x.shape == (3, 12, 16) and y.shape == (12, 16) and y.dtype == torch.int64
    xb, yb = next(iter(plain.loader(4)))
    assert yb.shape == (4, 12, 16) and torch.equal(yb[2], y) and torch.equal(xb[2], x)
    augmented = CachedDataset(work / "cache", "train", {"flip_horizontal": True, "flip_vertical": True}, seed=1)
    batch = augmented[list(range(len(augmented)))]
    flipped = False
    for image, mask in [*(augmented[i] for i in range(len(augmented))), *zip(*batch, strict=True)]:
        red = torch.round(image[0] * 255 - 20) / 100  # the factory's red channel is mask * 100 + 20
        assert torch.equal(red.round().long(), mask)
        flipped = flipped or not torch.equal(mask[:, :8].sum(), mask.sum())  # the block moved right


    assert flipped


def test_preview_overlays_the_mask(tmp_path: Path, work: Path) -> None:
    ingest("segmentation", segmentation_zip(tmp_path / "s.zip", pairs=4), "s.zip", work, {})
    cache = work / "cache"
    recipe, sample, mask = read_recipe(cache), open_inputs(cache)[0], open_masks(cache)[0]
    plain = np.asarray(Image.open(io.BytesIO(render_png(sample, recipe, size=16))))
    drawn = np.asarray(Image.open(io.BytesIO(render_png(sample, recipe, size=16, mask=mask))))
    assert plain.shape == drawn.shape == (12, 16, 3)
    differs = (plain != drawn).any(axis=2)
    assert differs[np.asarray(mask) > 0].all() and not differs[np.asarray(mask) == 0].any()


def test_the_shapes_sample_ingests(tmp_path: Path, work: Path) -> None:
    source = write_sample("shapes", tmp_path / "src")
    result = ingest("segmentation", source, source.name, work, {})
    assert result.classes == ["background", "circle", "square"] and result.skipped == []
    assert open_masks(work / "cache").shape == (120, 64, 64)
    assert 0 < result.stats["pixel_share"]["circle"] < 0.5


def test_split_preview_counts_images_with_masks_not_the_masks(tmp_path: Path) -> None:
    # Masks under labels/ (not a folder named "mask") and one image without its mask.
    members = {}
    for i in range(10):
        image, mask = seg_pair(i)
        members[f"seg/images/{i:02d}.png"] = image
        members[f"seg/labels/{i:02d}.png"] = array_png(mask)
    members["seg/images/lonely.png"] = seg_pair(11)[0]
    preview = preview_split("segmentation", write_zip(tmp_path / "s.zip", members), {"seed": 1}, Limits())
    assert preview["groups"] == 10 and preview["files_unread"] == 1
    assert sum(split["samples"] for split in preview["splits"].values()) == 10
