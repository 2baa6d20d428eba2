"""Zip extraction is bounded in disk use: overlapping entries are refused before decompressing, the
ratio counts all members together, and the caller's byte budget and the free disk stop extraction
while it writes. Each refusal names the archive and leaves nothing behind."""
from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.report import IngestError, Report
from pipelines.datasets.safety import extract_zip
from tests.dataset_factories import image_class_zip, write_zip

from .hostile_zips import forged_size_zip, overlapping_bomb, shared_header_bomb

MiB = 1 << 20


def leftovers(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) if folder.exists() else []


def refused(archive: Path, dest: Path, limits: Limits) -> IngestError:
    report = Report()
    with pytest.raises(IngestError) as caught:
        extract_zip(archive, dest, limits, report, shown="upload.zip")
    assert leftovers(dest) == []  # not a file, not a folder
    return caught.value


@pytest.mark.parametrize("build", [overlapping_bomb, shared_header_bomb])
def test_overlapping_entries_are_refused_before_decompressing(build: Callable[[Path], Path], tmp_path: Path,
                                                              small_limits: Limits) -> None:
    archive = build(tmp_path / "bomb.zip")
    with zipfile.ZipFile(archive) as zf:  # the real attack: every entry reads back whole, CRC and all
        assert [len(zf.read(info)) >= MiB for info in zf.infolist()] == [True] * 16
    assert archive.stat().st_size < 8_000
    error = refused(archive, tmp_path / "d", small_limits)
    assert error.code == "overlapping_entries" and error.file == "upload.zip"
    assert "bomb" in error.reason and "zip bomb" in error.reason


def test_a_forged_compressed_size_is_refused(tmp_path: Path, small_limits: Limits) -> None:
    # The central directory claims 1 GB of compressed data for a 16 MiB member of ~16 KB, which lifts
    # a ratio cap computed from it; its data would run into the next member and the directory.
    archive = forged_size_zip(tmp_path / "lie.zip", b"\0" * (16 * MiB), claimed=1_000_000_000)
    error = refused(archive, tmp_path / "d", small_limits)
    assert error.code == "overlapping_entries" and "'bomb.bin'" in error.reason


def test_many_small_compressible_members_hit_the_archive_ratio(tmp_path: Path, small_limits: Limits) -> None:
    # 160 members of 128 KiB, each under the 4 MiB a single member may reach before its own ratio
    # counts; together 20 MiB from a ~40 KB archive.
    archive = write_zip(tmp_path / "many.zip", {f"m/{i:03d}.bin": b"\0" * (128 * 1024) for i in range(160)})
    assert archive.stat().st_size < 60_000
    error = refused(archive, tmp_path / "d", small_limits)
    assert error.code == "compression_ratio" and error.file == "upload.zip" and "'m/" in error.reason


def test_the_ratio_counts_what_the_decompressor_gave_not_what_was_kept(tmp_path: Path,
                                                                        small_limits: Limits) -> None:
    # Three members that the per-member cap skips one by one still add up over the archive's ratio.
    archive = write_zip(tmp_path / "skips.zip", {f"b{i}.bin": b"\0" * (6 * MiB) for i in range(3)})
    error = refused(archive, tmp_path / "d", small_limits)
    assert error.code == "compression_ratio"


def test_the_callers_byte_budget_stops_extraction_while_writing(tmp_path: Path, small_limits: Limits) -> None:
    archive = write_zip(tmp_path / "data.zip", {f"a/f{i}.bin": os.urandom(200_000) for i in range(5)})
    limits = Limits(**{**small_limits.to_dict(), "max_extract_bytes": 450_000})
    error = refused(archive, tmp_path / "d", limits)
    assert error.code == "quota_exceeded" and "450000 bytes left" in error.reason and "'a/f2.bin'" in error.reason


def test_the_free_disk_stops_extraction_while_writing(tmp_path: Path) -> None:
    # Leave only 4 MiB above the reserve on the real filesystem; the member would write 64 MiB.
    usage = shutil.disk_usage(tmp_path)
    keep_free = (usage.free - 4 * MiB) / usage.total
    archive = write_zip(tmp_path / "big.zip", {"big.bin": b"\0" * (64 * MiB)})
    limits = Limits(max_ratio=10_000, min_free_fraction=keep_free)
    error = refused(archive, tmp_path / "d", limits)
    assert error.code == "disk_full" and "'big.bin'" in error.reason


def test_a_full_disk_refuses_before_writing_anything(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "small.zip", {"a.txt": b"x"})
    error = refused(archive, tmp_path / "d", Limits(min_free_fraction=1.0))
    assert error.code == "disk_full" and "100%" in error.reason


def test_a_failure_removes_only_what_extraction_wrote(tmp_path: Path, small_limits: Limits) -> None:
    dest = tmp_path / "d"
    (dest / "keep").mkdir(parents=True)
    (dest / "keep" / "mine.txt").write_text("not the archive's")
    archive = write_zip(tmp_path / "data.zip", {f"keep/f{i}.bin": os.urandom(200_000) for i in range(5)})
    with pytest.raises(IngestError):
        extract_zip(archive, dest, Limits(**{**small_limits.to_dict(), "max_extract_bytes": 450_000}), Report())
    assert leftovers(dest) == ["keep", "keep/mine.txt"]


def test_ingest_names_the_upload_and_leaves_no_raw_files(tmp_path: Path, work: Path) -> None:
    with pytest.raises(IngestError) as caught:
        ingest("image", overlapping_bomb(tmp_path / "stored-123.zip"), "holiday.zip", work, {})
    assert caught.value.code == "overlapping_entries" and caught.value.file == "holiday.zip"
    assert not (work / "raw").exists()


def test_a_normal_dataset_ingests_within_its_budget(tmp_path: Path, work: Path) -> None:
    archive = image_class_zip(tmp_path / "pets.zip", per_class=6)
    result = ingest("image", archive, "pets.zip", work, {"image_size": [8, 8]},
                    Limits(max_extract_bytes=archive.stat().st_size * 4))
    assert result.classes == ["cat", "dog"] and len(result.samples) == 12 and result.skipped == []
