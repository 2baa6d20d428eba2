from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.datasets.limits import Limits
from pipelines.datasets.report import Report


@pytest.fixture
def report() -> Report:
    return Report()


@pytest.fixture
def small_limits() -> Limits:
    return Limits(max_archive_bytes=50_000_000, max_member_bytes=20_000_000, max_entries=500, max_ratio=50.0,
                  max_image_pixels=1_000_000, max_volume_voxels=2_000_000, max_csv_field=10_000,
                  max_csv_columns=50)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder
