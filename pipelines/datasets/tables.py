"""Tables: a CSV with a target column. Numeric columns standardised, categorical one-hot,
missing values filled (with an indicator column); the encoding is saved as JSON and can be
re-applied to new rows with ``encode_row``."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .cache import save_array
from .collected import Collected
from .csvfile import column, read_csv
from .limits import Limits
from .options import TableOptions
from .report import IngestError, ProgressFn, Report

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
MAX_CLASSES_FOR_AUTO = 20


def _number(text: str) -> float | None:
    if text.strip().lower() in MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING


def build_encoding(header: list[str], rows: list[list[str]], options: TableOptions) -> dict[str, Any]:
    """The encoding of every feature column and of the target, learnt from ``rows``."""
    shown = "table"
    target = column(header, options.target_column, shown)
    assert target is not None  # required=True: a missing column raised already
    skip = {target} | {i for i, h in enumerate(header) if h in options.drop_columns or h == options.group_column}
    features = []
    for index, name in enumerate(header):
        if index in skip:
            continue
        values = [row[index] for row in rows]
        present = [v for v in values if not _is_missing(v)]
        numbers = [_number(v) for v in present]
        has_missing = len(present) < len(values)
        if present and all(n is not None for n in numbers):
            array = np.asarray(numbers, dtype=np.float64)
            raw = options.feature_scaling == "none"  # kept in the data's own units
            std = 1.0 if raw else float(array.std()) or 1.0
            features.append({"column": name, "kind": "numeric", "mean": 0.0 if raw else float(array.mean()), "std": std,
                             "missing_indicator": has_missing})
        else:
            counts = Counter(v.strip() for v in present)
            keep = [c for c, _ in counts.most_common(options.max_categories)]
            features.append({"column": name, "kind": "categorical", "categories": sorted(keep),
                             "other": len(counts) > len(keep), "missing_indicator": has_missing})
    return {"features": features, "target": _target_encoding(header[target], [r[target] for r in rows], options)}


def _target_encoding(name: str, values: list[str], options: TableOptions) -> dict[str, Any]:
    numbers = [_number(v) for v in values if not _is_missing(v)]
    numeric = bool(numbers) and all(n is not None for n in numbers)
    distinct = {v.strip() for v in values if not _is_missing(v)}
    task = options.task
    if task == "auto":
        integral = numeric and all(float(n).is_integer() for n in numbers)  # type: ignore[arg-type]
        task = "classification" if not numeric or (integral and len(distinct) <= MAX_CLASSES_FOR_AUTO) else "regression"
    if task == "regression":
        if not numeric:
            raise IngestError("target_not_numeric", f"target column {name!r} has non-numeric values")
        return {"column": name, "task": "regression"}
    classes = sorted(distinct, key=lambda v: (_number(v) is None, _number(v) or 0.0, v))
    if len(classes) < 2:
        raise IngestError("target_one_class", f"target column {name!r} needs at least two classes")
    return {"column": name, "task": "classification", "classes": classes}


def feature_names(encoding: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for feature in encoding["features"]:
        if feature["kind"] == "numeric":
            names.append(feature["column"])
        else:
            names += [f"{feature['column']}={c}" for c in feature["categories"]]
            if feature["other"]:
                names.append(f"{feature['column']}=__other__")
        if feature["missing_indicator"]:
            names.append(f"{feature['column']}__missing")
    return names


def encode_row(encoding: dict[str, Any], row: dict[str, str]) -> np.ndarray:
    """One row (column -> text) as the float32 feature vector the model sees."""
    out: list[float] = []
    for feature in encoding["features"]:
        text = row.get(feature["column"], "")
        missing = _is_missing(text)
        if feature["kind"] == "numeric":
            value = _number(text)
            out.append(0.0 if value is None else (value - feature["mean"]) / feature["std"])
        else:
            categories = feature["categories"]
            hot = [0.0] * (len(categories) + (1 if feature["other"] else 0))
            if not missing:
                if text.strip() in categories:
                    hot[categories.index(text.strip())] = 1.0
                elif feature["other"]:
                    hot[-1] = 1.0
            out += hot
        if feature["missing_indicator"]:
            out.append(1.0 if missing else 0.0)
    return np.asarray(out, dtype=np.float32)


def ingest_table(source: Path, shown: str, options: TableOptions, limits: Limits, report: Report,
                 progress: ProgressFn, cache: Path) -> Collected:
    header, rows = read_csv(source, limits, name=shown)
    target = column(header, options.target_column, shown)
    group = column(header, options.group_column, shown) if options.group_column else None
    for name in options.drop_columns:
        column(header, name, shown)
    kept = []
    for line, row in enumerate(rows, 2):
        if _is_missing(row[target]):  # type: ignore[index]
            report.skip(f"{shown}:{line}", "missing_target", f"row has no {options.target_column!r} value")
            continue
        kept.append(row)
    if len(kept) < 2:
        raise IngestError("too_few_rows", "the table needs at least two rows with a target", shown)
    progress("encode", 0, len(kept))
    encoding = build_encoding(header, kept, options)
    if not encoding["features"]:
        raise IngestError("no_features", "no feature column is left after the target and dropped columns", shown)
    inputs = np.empty((len(kept), len(feature_names(encoding))), dtype=np.float32)
    out = Collected(task=encoding["target"]["task"])
    for index, row in enumerate(kept):
        if index % 1000 == 0:
            progress("encode", index, len(kept))
        inputs[index] = encode_row(encoding, dict(zip(header, row, strict=True)))
        value = row[target].strip()  # type: ignore[index]
        regression = out.task == "regression"
        out.add(f"row {index + 2}", "" if regression else value,
                row[group].strip() if group is not None else f"row{index}",  # type: ignore[index]
                target=float(value) if regression else 0.0)
    progress("encode", len(kept), len(kept))
    save_array(cache, "inputs", inputs)
    out.recipe = {"input": "table", "layout": "NF", "dtype": "float32", "features": feature_names(encoding),
                  "encoding": encoding,
                  "steps": ["numeric: (x - mean) / std, missing -> 0 + indicator",
                            "categorical: one-hot of the most common categories, rest -> __other__"]}
    if out.task == "regression":  # the statistics are added by ingest, from the training split
        out.recipe["steps"].append("target: kept raw in the cache; a run trains on it scaled by its "
                                   "target_scaling (default standardize) with the training split's target_scaling "
                                   "statistics, and reports and serves the inverse")
    out.stats = {"columns": _column_stats(header, kept, encoding)}
    return out


def _column_stats(header: list[str], rows: list[list[str]], encoding: dict[str, Any]) -> list[dict[str, Any]]:
    stats = []
    for feature in encoding["features"]:
        index = header.index(feature["column"])
        values = [r[index] for r in rows]
        missing = sum(_is_missing(v) for v in values)
        entry: dict[str, Any] = {"column": feature["column"], "kind": feature["kind"], "missing": missing}
        if feature["kind"] == "numeric":
            array = np.asarray([n for n in map(_number, values) if n is not None])
            counts, edges = np.histogram(array, bins=20)
            entry |= {"min": float(array.min()), "max": float(array.max()), "mean": feature["mean"],
                      "histogram": {"counts": counts.tolist(), "edges": edges.round(6).tolist()}}
        else:
            entry["top"] = Counter(v.strip() for v in values if not _is_missing(v)).most_common(10)
        stats.append(entry)
    return stats
