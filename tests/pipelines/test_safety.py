"""Archive extraction refuses every path trick and bomb, reports it by name, and writes nothing
outside the dataset folder."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from pipelines.datasets.limits import Limits
from pipelines.datasets.report import IngestError, Report
from pipelines.datasets.safety import UnsafeName, clean_member_name, extract_zip
from tests.dataset_factories import patch_name, write_zip


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "C:/evil.txt",
                                  "..\\evil.txt", "a\\..\\..\\evil.txt", "bad\x00name.txt", "bad\nname.txt", ""])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeName):
        clean_member_name(name)


def test_ordinary_names_are_normalised() -> None:
    assert clean_member_name("a/./b//c.png") == "a/b/c.png"
    assert clean_member_name("a\\b.png") == "a/b.png"


def test_zip_slip_absolute_and_link_members_are_skipped(tmp_path: Path, small_limits: Limits, report: Report) -> None:
    archive = write_zip(tmp_path / "slip.zip", {
        "ok/a.txt": b"fine", "../outside.txt": b"x", "../../outside2.txt": b"x", "/abs.txt": b"x",
        "dir/..\\..\\win.txt": b"x",
    }, symlinks={"ok/link": "/etc/passwd"})
    dest = tmp_path / "dest"
    written = extract_zip(archive, dest, small_limits, report)
    assert written == ["ok/a.txt"]
    assert files_under(dest) == {"ok/a.txt"}
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside2.txt").exists()
    codes = {s.file: s.code for s in report.skipped}
    assert codes == {"../outside.txt": "unsafe_name", "../../outside2.txt": "unsafe_name",
                     "/abs.txt": "unsafe_name", "dir/..\\..\\win.txt": "unsafe_name", "ok/link": "link"}
    assert not any(os.path.islink(p) for p in dest.rglob("*"))


def test_nul_byte_in_a_member_name_is_reported_escaped(tmp_path: Path, small_limits: Limits, report: Report) -> None:
    archive = write_zip(tmp_path / "nul.zip", {"ok.txt": b"1", "evilXname.txt": b"2"})
    patch_name(archive, "evilXname.txt", b"evil\x00name.txt")
    assert extract_zip(archive, tmp_path / "d", small_limits, report) == ["ok.txt"]
    assert [(s.file, s.code) for s in report.skipped] == [("evil\\x00name.txt", "unsafe_name")]


def test_compression_ratio_bomb_is_stopped_while_extracting(tmp_path: Path, small_limits: Limits,
                                                             report: Report) -> None:
    archive = write_zip(tmp_path / "bomb.zip", {"bomb.bin": b"\0" * 15_000_000, "ok.txt": b"fine"})
    dest = tmp_path / "d"
    assert extract_zip(archive, dest, small_limits, report) == ["ok.txt"]
    assert [(s.file, s.code) for s in report.skipped] == [("bomb.bin", "compression_ratio")]
    assert not (dest / "bomb.bin").exists()


def test_member_size_cap(tmp_path: Path, report: Report) -> None:
    archive = write_zip(tmp_path / "big.zip", {"big.bin": os.urandom(300_000), "ok.txt": b"x"})
    limits = Limits(max_member_bytes=100_000)
    assert extract_zip(archive, tmp_path / "d", limits, report) == ["ok.txt"]
    assert report.skipped[0].code == "too_large"


def test_total_size_cap_fails_the_archive(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "many.zip", {f"f{i}.bin": os.urandom(200_000) for i in range(6)})
    with pytest.raises(IngestError) as caught:
        extract_zip(archive, tmp_path / "d", Limits(max_archive_bytes=500_000), Report())
    assert caught.value.code == "archive_too_large"


def test_entry_count_cap_fails_the_archive(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "entries.zip", {f"f{i}.txt": b"x" for i in range(20)})
    with pytest.raises(IngestError) as caught:
        extract_zip(archive, tmp_path / "d", Limits(max_entries=10), Report())
    assert caught.value.code == "too_many_entries"


def test_corrupt_member_is_skipped(tmp_path: Path, small_limits: Limits, report: Report) -> None:
    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("good.txt", b"good data")
        zf.writestr("bad.txt", b"ABCDEFGHIJKLMNOP")
    archive.write_bytes(archive.read_bytes().replace(b"ABCDEFGHIJKLMNOP", b"ABCDEFGHIJKLMNOQ"))  # CRC mismatch
    assert extract_zip(archive, tmp_path / "d", small_limits, report) == ["good.txt"]
    assert [(s.file, s.code) for s in report.skipped] == [("bad.txt", "corrupt")]


def test_not_a_zip_and_truncated_zip_fail_cleanly(tmp_path: Path, small_limits: Limits) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip at all")
    with pytest.raises(IngestError) as caught:
        extract_zip(junk, tmp_path / "d", small_limits, Report())
    assert caught.value.code == "bad_archive"
    whole = write_zip(tmp_path / "t.zip", {"a.txt": os.urandom(5000)})
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole.read_bytes()[:-40])
    with pytest.raises(IngestError):
        extract_zip(truncated, tmp_path / "d2", small_limits, Report())


def test_duplicate_member_names_keep_the_first(tmp_path: Path, small_limits: Limits, report: Report) -> None:
    archive = tmp_path / "dup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", b"first")
        zf.writestr("./a.txt", b"second")
    assert extract_zip(archive, tmp_path / "d", small_limits, report) == ["a.txt"]
    assert (tmp_path / "d" / "a.txt").read_bytes() == b"first"
    assert report.skipped[0].code == "duplicate"
