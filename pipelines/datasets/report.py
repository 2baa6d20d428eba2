"""How ingest reports bad input: skipped files by name, and fatal problems that fail a dataset."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# phase, done, total: called as ingest makes progress.
ProgressFn = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    return None


class BadFile(Exception):
    """One input file cannot be used; it is skipped and reported, the rest goes on."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class IngestError(Exception):
    """The whole source cannot be used (the dataset fails with this reason)."""

    def __init__(self, code: str, reason: str, file: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.file = file
        self.report: Report | None = None  # what was skipped before the failure

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason, "file": self.file}


@dataclass
class Skipped:
    file: str
    code: str
    reason: str


MAX_REPORTED = 10_000  # a million bad files must not make a million-row JSON document


@dataclass
class Report:
    skipped: list[Skipped] = field(default_factory=list)
    skipped_total: int = 0

    def skip(self, file: str, code: str, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_REPORTED:
            self.skipped.append(Skipped(printable(file), code, reason))

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.skipped]


def printable(name: str, limit: int = 300) -> str:
    """A file name as it can be shown: control characters (NUL included) escaped, length capped."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    return text if len(text) <= limit else text[: limit - 1] + "…"
