"""Image datasets: class folders and labels CSV; bad images are skipped by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.datasets.cache import open_inputs
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.report import IngestError
from tests.dataset_factories import bomb_png, image_class_zip, png_bytes, write_zip


def test_class_folders_of_mixed_formats_and_modes(tmp_path: Path, work: Path) -> None:
    archive = image_class_zip(tmp_path / "pets.zip", per_class=8)
    result = ingest("image", archive, "pets.zip", work, {"image_size": [8, 8]})
    assert result.classes == ["cat", "dog"] and result.skipped == []
    inputs = open_inputs(work / "cache")
    assert inputs.shape == (16, 3, 8, 8) and inputs.dtype == np.uint8 and int(inputs.max()) > 0
    assert result.stats["class_totals"] == {"cat": 8, "dog": 8}
    assert result.recipe["size"] == [8, 8] and result.recipe["channels"] == 3
    assert sum(result.stats["split_counts"].values()) == 16
    assert not (work / "raw").exists()  # the extracted files do not outlive ingest


def test_grey_images_default_to_one_channel_and_common_size(tmp_path: Path, work: Path) -> None:
    members = {f"d/{c}/{i}.png": png_bytes((20, 10), "L", 10 * i) for c in "ab" for i in range(4)}
    members["d/a/odd.png"] = png_bytes((30, 30), "L")
    ingest("image", write_zip(tmp_path / "g.zip", members), "g.zip", work, {})
    assert open_inputs(work / "cache").shape == (9, 1, 10, 20)  # (height 10, width 20)


def test_labels_csv_variant_with_groups(tmp_path: Path, work: Path) -> None:
    members = {f"img/{i}.png": png_bytes(value=i * 20) for i in range(8)}
    rows = ["file,label,patient"] + [f"{i}.png,{'x' if i % 2 else 'y'},p{i // 2}" for i in range(8)]
    rows += ["missing.png,x,p9", "../../etc/passwd,x,p9", "3.png,,p1"]
    members["img/labels.csv"] = "\n".join(rows).encode()
    result = ingest("image", write_zip(tmp_path / "l.zip", members), "l.zip", work, {"seed": 3})
    assert len(result.samples) == 8
    assert {s["code"] for s in result.skipped} == {"missing_file", "unsafe_name", "missing_label"}
    by_group: dict[str, set[str]] = {}
    for sample in result.samples:
        by_group.setdefault(sample["group"], set()).add(sample["split"])
    assert all(len(splits) == 1 for splits in by_group.values())


def test_bad_images_are_skipped_by_name(tmp_path: Path, work: Path) -> None:
    good = {f"set/{c}/{i}.png": png_bytes() for c in "ab" for i in range(3)}
    truncated = png_bytes((64, 64))[:60]
    archive = write_zip(tmp_path / "bad.zip", {
        **good,
        "set/a/bomb.png": bomb_png(),
        "set/a/truncated.png": truncated,
        "set/b/notes.txt": b"not an image",
        "set/b/fake.jpg": b"\xff\xd8\xff garbage",
        "loose.png": png_bytes(),
    })
    result = ingest("image", archive, "bad.zip", work, {}, Limits(max_image_pixels=1_000_000))
    assert len(result.samples) == 6
    skipped = {s["file"]: s["code"] for s in result.skipped}
    assert skipped["set/a/bomb.png"] == "image_too_large"
    assert skipped["set/a/truncated.png"] in ("corrupt_image", "unreadable_image")
    assert skipped["set/b/notes.txt"] == "unsupported_type"
    assert skipped["set/b/fake.jpg"] == "unreadable_image"
    assert skipped["loose.png"] == "no_class_folder"


def test_nothing_usable_fails_with_a_reason(tmp_path: Path, work: Path) -> None:
    archive = write_zip(tmp_path / "none.zip", {"a/b/readme.txt": b"hello"})
    with pytest.raises(IngestError) as caught:
        ingest("image", archive, "none.zip", work, {})
    assert caught.value.code == "no_images"
    assert caught.value.report is not None and caught.value.report.skipped_total == 1


def test_an_image_dataset_must_be_a_zip(tmp_path: Path, work: Path) -> None:
    source = tmp_path / "x.png"
    source.write_bytes(png_bytes())
    with pytest.raises(IngestError) as caught:
        ingest("image", source, "x.png", work, {})
    assert caught.value.code == "not_a_zip"
