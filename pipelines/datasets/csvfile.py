"""Reading CSV files with caps on field size, column count and cell count."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from .limits import Limits
from .report import IngestError


def read_csv(path: Path, limits: Limits, *, name: str | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a UTF-8 CSV; IngestError naming the file and line when it is unusable.

    Short rows are padded with empty cells; long rows are an error (a sign of a broken file).
    """
    shown = name or path.name
    header: list[str] = []
    rows: list[list[str]] = []
    cells = 0
    for line, row in _rows(path, limits, shown):
        if not header:
            header = [h.strip() for h in row]
            if not any(header):
                raise IngestError("csv_no_header", "the first line must name the columns", shown)
            if len(header) > limits.max_csv_columns:
                raise IngestError(
                    "csv_too_many_columns",
                    f"{len(header)} columns; the limit is {limits.max_csv_columns}",
                    shown,
                )
            if len(set(header)) != len(header):
                raise IngestError("csv_duplicate_columns", "two columns have the same name", shown)
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise IngestError(
                "csv_bad_row", f"line {line} has {len(row)} cells but the header has {len(header)}", shown
            )
        rows.append(row + [""] * (len(header) - len(row)))
        cells += len(header)
        if cells > limits.max_table_cells:
            raise IngestError("csv_too_large", f"more than {limits.max_table_cells} cells", shown)
    if not header:
        raise IngestError("csv_empty", "the file is empty", shown)
    return header, rows


def _rows(path: Path, limits: Limits, shown: str) -> Iterator[tuple[int, list[str]]]:
    csv.field_size_limit(limits.max_csv_field)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            # A line longer than any allowed field can only be hostile: refuse it before the csv
            # module buffers it.
            guarded = _LineGuard(fh, limits.max_csv_field * 4 + 1024, shown)
            reader = csv.reader(guarded)
            for row in reader:
                yield reader.line_num, row
    except csv.Error as exc:
        raise IngestError("csv_bad_field", f"line {reader.line_num}: {exc}", shown) from exc
    except UnicodeDecodeError as exc:
        raise IngestError("csv_not_utf8", f"not UTF-8 text (byte {exc.start})", shown) from exc


class _LineGuard:
    def __init__(self, fh: io.TextIOBase, max_line: int, shown: str) -> None:
        self.fh = fh
        self.max_line = max_line
        self.shown = shown
        self.number = 0

    def __iter__(self) -> _LineGuard:
        return self

    def __next__(self) -> str:
        line = self.fh.readline(self.max_line + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > self.max_line:
            raise IngestError("csv_bad_field", f"a line is longer than {self.max_line} characters", self.shown)
        if "\x00" in line:
            raise IngestError("csv_nul_byte", f"line {self.number} contains a NUL byte", self.shown)
        return line


def column(header: list[str], wanted: str | tuple[str, ...], shown: str, *, required: bool = True) -> int | None:
    """Index of the first column named one of ``wanted`` (case-insensitive)."""
    names = (wanted,) if isinstance(wanted, str) else wanted
    lowered = [h.lower() for h in header]
    for candidate in names:
        if candidate.lower() in lowered:
            return lowered.index(candidate.lower())
    if required:
        raise IngestError(
            "csv_missing_column",
            f"no column named {' or '.join(repr(n) for n in names)} (columns: {', '.join(header[:20])})",
            shown,
        )
    return None
