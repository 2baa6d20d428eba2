"""The split of a CT upload is reproducible from its seed although patients are named by
pseudonyms salted anew at every ingest (``ingest._split_keys``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.datasets.ingest import ingest
from tests.pipelines.test_volume_masks import archive


def split_by_file(samples: list[dict[str, Any]]) -> dict[str, str]:
    return {sample["meta"]["mask"]: sample["split"] for sample in samples}


def test_same_upload_and_seed_put_the_same_patients_in_each_split(tmp_path: Path, work: Path) -> None:
    source = archive(tmp_path / "a.zip", cases=20)
    options = {"volume_shape": [8, 10, 12], "val_fraction": 0.2, "test_fraction": 0.2, "seed": 3}
    first = ingest("ct_nifti", source, "a.zip", work, options)
    again = ingest("ct_nifti", source, "a.zip", work, options)
    assert split_by_file(again.samples) == split_by_file(first.samples)
    assert sorted(split_by_file(first.samples).values()).count("test") == 4
    # The pseudonyms are still unlinkable across ingests: no patient keeps its name.
    assert {s["group"] for s in first.samples}.isdisjoint(s["group"] for s in again.samples)
    other = ingest("ct_nifti", source, "a.zip", work, {**options, "seed": 4})
    assert split_by_file(other.samples) != split_by_file(first.samples)
    assert other.recipe["splits"]["seed"] == 4
