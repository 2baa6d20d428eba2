"""The ingest pipeline: source -> safe extraction -> format reader -> cache, splits, stats."""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import SPLITS, save_array, write_json
from .collected import Collected
from .dicom import SERIES_STEP, ingest_dicom
from .images import ingest_images
from .limits import Limits
from .masks import ingest_masks
from .nifti import ingest_nifti
from .options import parse_options
from .orientation import STEP as ORIENTATION_STEP
from .report import IngestError, ProgressFn, Report, no_progress
from .safety import extract_zip
from .splits import grouped_stratified_split, quantile_bins, split_advice, split_sizes
from .stats import compute_stats
from .tables import ingest_table
from .targets import target_statistics
from .text import ingest_text
from .volume import VolumeCache

RECIPE_FORMAT = 1
ORIGINALS = "originals"  # under the version's folder: de-identified DICOM copies, when kept


@dataclass
class IngestResult:
    kind: str
    task: str
    classes: list[str]
    samples: list[dict[str, Any]]
    stats: dict[str, Any]
    recipe: dict[str, Any]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    skipped_total: int = 0


def ingest(kind: str, source: Path, source_name: str, workdir: Path, options: dict[str, Any] | None,
           limits: Limits | None = None, progress: ProgressFn = no_progress, *,
           keep_deidentified: bool = False) -> IngestResult:
    """Ingest ``source`` (named ``source_name`` by the user) into ``workdir/cache``.

    Raises IngestError when nothing usable comes out; bad single files are in ``skipped``.
    Options are validated with ``options.parse_options`` (ValueError on bad ones).
    ``keep_deidentified``: DICOM slices used are also kept, de-identified, under
    ``workdir/originals`` (``dicom_deid``); nothing else of the source is kept.
    """
    limits = limits or Limits()
    parsed = parse_options(kind, options)
    report = Report()
    cache, raw, originals = workdir / "cache", workdir / "raw", workdir / ORIGINALS
    for folder in (cache, raw, originals):
        shutil.rmtree(folder, ignore_errors=True)
    cache.mkdir(parents=True)
    keep = originals if keep_deidentified and kind == "ct_dicom" else None
    try:
        collected = _read(kind, source, source_name, raw, cache, parsed, limits, report, progress, keep)
    except BaseException as exc:
        shutil.rmtree(originals, ignore_errors=True)
        if isinstance(exc, IngestError):
            exc.report = report
        raise
    finally:
        shutil.rmtree(raw, ignore_errors=True)
    if not collected.names:
        raise IngestError("no_samples", "no usable sample was found (see the skipped files)")
    if len(collected.names) > limits.max_samples:
        raise IngestError("too_many_samples", f"{len(collected.names)} samples; the limit is {limits.max_samples}")
    progress("split", 0, 1)
    classes, targets = _targets(collected)
    strata = _strata(collected)
    splits = grouped_stratified_split(strata, _split_keys(kind, collected.groups), val_fraction=parsed.val_fraction,
                                      test_fraction=parsed.test_fraction, seed=parsed.seed,
                                      stratify=parsed.split_strategy == "stratified")
    save_array(cache, "targets", targets)
    save_array(cache, "splits", splits)
    recipe = {"format": RECIPE_FORMAT, "kind": kind, "task": collected.task, "classes": classes,
              **collected.recipe, "options": parsed.model_dump(mode="json"),
              "splits": {"seed": parsed.seed, "val_fraction": parsed.val_fraction,
                         "test_fraction": parsed.test_fraction, "strategy": parsed.split_strategy,
                         "grouped_by": _grouped_by(kind)}}
    if collected.task == "regression":  # learnt on the training split only: see targets.py
        recipe["target_scaling"] = target_statistics(targets, splits)
    write_json(cache / "recipe.json", recipe)
    progress("stats", 0, 1)
    stats = compute_stats(cache, collected.labels, splits, recipe, collected.stats)
    stats["skipped"] = report.skipped_total
    sizes = split_sizes(splits, collected.groups)
    stats["split_groups"] = {name: size["groups"] for name, size in sizes.items()}
    stats["grouped_by"] = _grouped_by(kind)
    stats["split_warnings"] = split_advice(sizes, _grouped_by(kind))
    samples = [
        {"index": i, "name": collected.names[i], "label": collected.labels[i],
         "target": float(targets[i]), "group": collected.groups[i], "split": SPLITS[int(splits[i])],
         "meta": collected.metas[i]}
        for i in range(len(collected.names))
    ]
    progress("stats", 1, 1)
    return IngestResult(kind, collected.task, classes, samples, stats, recipe, report.to_list(),
                        report.skipped_total)


def _read(kind: str, source: Path, name: str, raw: Path, cache: Path, options: Any, limits: Limits,
          report: Report, progress: ProgressFn, originals: Path | None) -> Collected:
    if kind in ("table", "text"):
        csv_path, shown = _single_csv(source, name, raw, limits, report, progress)
        reader = ingest_table if kind == "table" else ingest_text
        return reader(csv_path, shown, options, limits, report, progress, cache)
    if not zipfile.is_zipfile(source):
        raise IngestError("not_a_zip", f"a {kind} dataset is uploaded as a zip archive", name)
    files = extract_zip(source, raw, limits, report, progress, shown=name)
    if kind == "image":
        return ingest_images(raw, files, options, limits, report, progress, cache)
    if kind == "segmentation":
        return ingest_masks(raw, files, options, limits, report, progress, cache)
    volumes: VolumeCache | Collected
    if kind == "ct_dicom":
        volumes = ingest_dicom(raw, files, options, limits, report, progress, cache, originals)
    else:
        volumes = ingest_nifti(raw, files, options, limits, report, progress, cache)
    if isinstance(volumes, Collected):  # volumes with label masks: finished by their reader
        return volumes
    steps = ([SERIES_STEP, ORIENTATION_STEP] if kind == "ct_dicom"
             else ["NIfTI reoriented to the closest canonical (RAS) axes, scaled by scl_slope/inter"])
    return volumes.finish(options, steps)


def _single_csv(source: Path, name: str, raw: Path, limits: Limits, report: Report,
                progress: ProgressFn) -> tuple[Path, str]:
    if not zipfile.is_zipfile(source):
        return source, name
    files = [f for f in extract_zip(source, raw, limits, report, progress, shown=name)
             if f.lower().endswith(".csv")]
    if len(files) != 1:
        raise IngestError("csv_not_found", f"the zip must hold exactly one CSV file (found {len(files)})", name)
    return raw / files[0], files[0]


def _targets(collected: Collected) -> tuple[list[str], np.ndarray]:
    if collected.task == "regression":
        return [], np.asarray(collected.targets, dtype=np.float32)
    if collected.task == "segmentation":  # classes come from the masks; the target is the rarest one
        index = {c: i for i, c in enumerate(collected.classes)}
        return collected.classes, np.asarray([index[s] for s in collected.strata], dtype=np.int64)
    classes = sorted(set(collected.labels), key=_natural)
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.asarray([index[label] for label in collected.labels], dtype=np.int64)


def _strata(collected: Collected) -> list[Any]:
    if collected.task == "classification":
        return collected.labels
    if collected.task == "segmentation":
        return collected.strata
    return quantile_bins(collected.targets)


def _natural(label: str) -> tuple[bool, float, str]:
    try:
        return (False, float(label), label)
    except ValueError:
        return (True, 0.0, label)


PSEUDONYMISED = ("ct_dicom", "ct_nifti")  # kinds whose groups are salted patient pseudonyms (volume.Pseudonyms)


def _split_keys(kind: str, groups: list[str]) -> list[str]:
    """What the split orders groups by. A patient pseudonym's salt is new at every ingest and never
    stored, so ordered by pseudonym the same upload and seed would put other patients in test at
    each ingest; these kinds' groups are keyed by where their first sample lies instead (samples
    are stored in the order the reader takes the sorted paths, so the key tells nothing the cache's
    order does not, and the split is the same for the same upload, options and seed)."""
    if kind not in PSEUDONYMISED:
        return groups
    first: dict[str, int] = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)
    return [f"{first[group]:012d}" for group in groups]  # zero-padded: sorted as text, in sample order


def _grouped_by(kind: str) -> str:
    return {"ct_dicom": "patient", "ct_nifti": "patient", "text": "document",
            "segmentation": "sample (stratified by the rarest class in its mask)"}.get(kind, "group column or sample")
