"""What each format reader hands back to ``ingest``: samples written to the cache, with labels."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .report import BadFile, IngestError, Report


@dataclass
class Collected:
    names: list[str] = field(default_factory=list)  # shown to users: never patient identifiers
    labels: list[str] = field(default_factory=list)  # class name, or "" for regression
    targets: list[float] = field(default_factory=list)  # regression targets (else unused)
    groups: list[str] = field(default_factory=list)  # samples of one group stay in one split
    metas: list[dict[str, Any]] = field(default_factory=list)
    task: str = "classification"
    recipe: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)  # segmentation: class index -> name
    strata: list[str] = field(default_factory=list)  # segmentation: what splits are stratified by

    def add(self, name: str, label: str, group: str, meta: dict[str, Any] | None = None,
            target: float = 0.0) -> None:
        self.names.append(name)
        self.labels.append(label)
        self.targets.append(target)
        self.groups.append(group)
        self.metas.append(meta or {})


def strip_common_root(paths: Sequence[str]) -> list[tuple[str, ...]]:
    """Path parts with a shared top folder removed (``digits/3/a.png`` -> ``3/a.png``)."""
    parts = [PurePosixPath(p).parts for p in paths]
    while parts and all(len(p) >= 3 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    return parts


def find_labels_csv(root: Path, files: Sequence[str], wanted: str | None) -> str | None:
    """The labels CSV asked for, or the only CSV of the archive, or None (class folders)."""
    if wanted is not None:
        if wanted not in files:
            raise IngestError("labels_csv_missing", f"labels_csv {wanted!r} is not in the archive", wanted)
        return wanted
    csvs = [f for f in files if f.lower().endswith(".csv")]
    if len(csvs) > 1:
        raise IngestError("labels_csv_ambiguous", f"the archive has several CSV files ({', '.join(csvs[:5])}); "
                          "name one with the labels_csv option", csvs[0])
    return csvs[0] if csvs else None


def class_from_folder(parts: tuple[str, ...]) -> str:
    if len(parts) < 2:
        raise BadFile("no_class_folder", "not inside a class folder (and no labels CSV)")
    return parts[0]


def entries_from_class_folders(files: Sequence[str], report: Report) -> list[tuple[str, str, str]]:
    """(relative path, label, group) for files labelled by their top folder; a file outside any
    class folder is reported and skipped."""
    entries = []
    for rel, parts in zip(files, strip_common_root(files), strict=True):
        try:
            entries.append((rel, class_from_folder(parts), rel))
        except BadFile as exc:
            report.skip(rel, exc.code, exc.reason)
    return entries
