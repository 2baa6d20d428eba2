"""Splits never leak a group, the cache loads memory-mapped without pickle, augmentation keeps
shapes, and the sample datasets ingest."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.datasets.augment import AugmentationSettings, augment
from pipelines.datasets.ingest import ingest
from pipelines.datasets.loader import CachedDataset
from pipelines.datasets.samples import SAMPLES, write_sample
from pipelines.datasets.splits import grouped_stratified_split, quantile_bins
from tests.dataset_factories import image_class_zip


def test_split_is_seeded_stratified_and_grouped() -> None:
    labels = ["a"] * 200 + ["b"] * 100
    groups = [f"p{i // 4}" for i in range(300)]  # 4 samples per patient
    first = grouped_stratified_split(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=7)
    assert np.array_equal(first, grouped_stratified_split(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=7))
    assert not np.array_equal(first, grouped_stratified_split(labels, groups, val_fraction=0.1, test_fraction=0.2, seed=8))
    for group in set(groups):
        assert len({int(first[i]) for i, g in enumerate(groups) if g == group}) == 1
    for label in "ab":
        counts = Counter(int(c) for c, lab in zip(first, labels, strict=True) if lab == label)
        total = sum(counts.values())
        assert abs(counts[2] / total - 0.2) < 0.05 and abs(counts[1] / total - 0.1) < 0.05


def test_random_split_draws_groups_from_one_pool_and_still_keeps_them_whole() -> None:
    labels = ["a"] * 30 + ["b"] * 270
    groups = [f"p{i // 3}" for i in range(300)]
    codes = grouped_stratified_split(labels, groups, val_fraction=0.2, test_fraction=0.2, seed=1, stratify=False)
    for group in set(groups):
        assert len({int(codes[i]) for i, g in enumerate(groups) if g == group}) == 1
    assert sum(codes == 1) == sum(codes == 2) == 60  # 20 of the 100 groups each, over both labels
    stratified = grouped_stratified_split(labels, groups, val_fraction=0.2, test_fraction=0.2, seed=1)
    assert not np.array_equal(codes, stratified)


def test_split_options_are_checked() -> None:
    from pipelines.datasets.options import option_errors

    assert option_errors("image", {"split_strategy": "random", "val_fraction": 0.2, "test_fraction": 0.3}) == {}
    assert "options.split_strategy" in option_errors("image", {"split_strategy": "by_date"})
    assert "options.val_fraction" in option_errors("image", {"val_fraction": 0.95})
    assert list(option_errors("image", {"val_fraction": 0.5, "test_fraction": 0.5})) == ["options"]


def test_ingest_records_the_split_settings_it_used(tmp_path: Path, work: Path) -> None:
    options = {"image_size": [8, 8], "split_strategy": "random", "seed": 5, "val_fraction": 0.2, "test_fraction": 0.3}
    result = ingest("image", image_class_zip(tmp_path / "p.zip", per_class=10), "p.zip", work, options)
    assert result.recipe["splits"] | {"grouped_by": None} == {
        "seed": 5, "val_fraction": 0.2, "test_fraction": 0.3, "strategy": "random", "grouped_by": None}
    assert Counter(s["split"] for s in result.samples) == {"train": 10, "test": 6, "val": 4}


def test_tiny_classes_keep_a_training_group() -> None:
    codes = grouped_stratified_split(["a", "b", "b"], ["1", "2", "3"], val_fraction=0.45, test_fraction=0.45, seed=0)
    assert codes[0] == 0 and 0 in codes[1:]


def test_quantile_bins() -> None:
    assert sorted(set(quantile_bins(list(range(100)), bins=4))) == [0, 1, 2, 3]


def test_loader_reads_the_cache_and_batches_fast(tmp_path: Path, work: Path) -> None:
    ingest("image", image_class_zip(tmp_path / "p.zip", per_class=10), "p.zip", work, {"image_size": [8, 8]})
    train = CachedDataset(work / "cache", "train")
    everything = CachedDataset(work / "cache")
    assert len(everything) == 20 and 0 < len(train) < 20
    x, y = train[0]
    assert x.dtype == torch.float32 and x.shape == (3, 8, 8) and y.dtype == torch.int64
    batch = next(iter(torch.utils.data.DataLoader(everything, batch_size=8, shuffle=True)))
    assert batch[0].shape == (8, 3, 8, 8)
    xb, yb = next(iter(everything.loader(5, shuffle=False)))
    assert xb.shape == (5, 3, 8, 8) and torch.equal(xb[3], everything[3][0]) and torch.equal(yb[3], everything[3][1])
    shuffled = everything[[7, 2]]
    assert torch.equal(shuffled[0][0], everything[7][0]) and torch.equal(shuffled[0][1], everything[2][0])
    many = everything.__getitems__([5, 1, 3])
    assert torch.equal(many[0][0], everything[5][0]) and torch.equal(many[1][0], everything[1][0])


def test_cache_files_refuse_pickles(work: Path) -> None:
    cache = work / "cache"
    cache.mkdir()
    np.save(cache / "inputs.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    from pipelines.datasets.cache import open_inputs

    with pytest.raises(ValueError):
        open_inputs(cache)


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 8, 16, 16)])
def test_augmentation_keeps_shape_and_changes_values(shape: tuple[int, ...]) -> None:
    settings = AugmentationSettings(flip_horizontal=True, flip_vertical=True, flip_depth=True, rotate_degrees=30,
                                    crop_scale=0.7, intensity_jitter=0.2)
    x = torch.rand(shape)
    out = augment(x, settings, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert augment(x, AugmentationSettings(), torch.Generator()) is x


def test_augmentation_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        AugmentationSettings(rotate_degrees=400)
    with pytest.raises(ValueError):
        AugmentationSettings.model_validate({"blur": True})


@pytest.mark.parametrize("name", ["breast_cancer", "topics"])
def test_quick_sample_datasets_ingest(name: str, tmp_path: Path, work: Path) -> None:
    spec = SAMPLES[name]
    source = write_sample(name, tmp_path / "src")
    result = ingest(str(spec["kind"]), source, source.name, work, dict(spec["options"]))  # type: ignore[call-overload]
    assert result.skipped == [] and len(result.classes) >= 2
