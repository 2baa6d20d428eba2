"""Which mask values mean which class: a classes.json or CSV naming ids or colours, or (without
one) the masks' integer values themselves. Turns a decoded mask into class indices 0..K-1."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .csvfile import column, read_csv
from .limits import Limits
from .report import BadFile, IngestError

MAX_CLASSES = 1024
MAX_CLASSES_FILE_BYTES = 1024 * 1024
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass
class ClassMap:
    """``mode`` is ``ids`` (mask values listed in a file), ``colours`` (RGB masks) or ``values``
    (no file: value v is class v, below ``limit``)."""

    mode: str
    names: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    colours: list[tuple[int, int, int]] = field(default_factory=list)
    limit: int = MAX_CLASSES

    @property
    def wants_rgb(self) -> bool:
        return self.mode == "colours"

    def to_indices(self, values: np.ndarray) -> np.ndarray:
        """Class indices (int16) for a decoded mask: (H, W) values, or (H, W, 3) colours.
        BadFile naming the first few values that are not classes."""
        if self.mode == "colours":
            keys = (values[..., 0].astype(np.int64) << 16) | (values[..., 1].astype(np.int64) << 8) | values[..., 2]
            known = np.asarray([(r << 16) | (g << 8) | b for r, g, b in self.colours], dtype=np.int64)
            order = np.argsort(known)
            position = np.clip(np.searchsorted(known[order], keys), 0, len(known) - 1)
            valid = known[order][position] == keys
            if not valid.all():
                bad = [f"#{int(k):06x}" for k in np.unique(keys[~valid])[:5]]
                raise BadFile("invalid_mask_value", f"colours {', '.join(bad)} are not in the classes file")
            return order[position].astype(np.int16)
        table = self._lookup()
        flat = values.astype(np.int64)
        inside = (flat >= 0) & (flat < len(table))
        indices = np.where(inside, table[np.clip(flat, 0, len(table) - 1)], -1)
        if (indices < 0).any():
            bad = [str(int(v)) for v in np.unique(flat[indices < 0])[:5]]
            where = "in the classes file" if self.mode == "ids" else f"below {self.limit}"
            raise BadFile("invalid_mask_value", f"values {', '.join(bad)} are not class ids {where}")
        return indices.astype(np.int16)

    def _lookup(self) -> np.ndarray:
        if self.mode == "values":
            return np.arange(self.limit, dtype=np.int64)
        table = np.full(max(self.ids) + 1, -1, dtype=np.int64)
        table[self.ids] = np.arange(len(self.ids))
        return table

    def finish_values(self, highest: int) -> None:
        """Without a classes file the classes are 0..highest (or 0..limit-1 when it was given)."""
        count = self.limit if self.limit < MAX_CLASSES else max(highest + 1, 2)
        self.names = [str(v) for v in range(count)]
        self.ids = list(range(count))

    def to_recipe(self) -> dict[str, Any]:
        recipe: dict[str, Any] = {"mode": self.mode, "names": self.names}
        if self.mode == "colours":
            recipe["colours"] = [list(c) for c in self.colours]
        else:
            recipe["ids"] = self.ids
        return recipe


def values_map(num_classes: int | None) -> ClassMap:
    return ClassMap("values", limit=num_classes or MAX_CLASSES)


def read_class_map(path: Path, shown: str, limits: Limits) -> ClassMap:
    """A ClassMap from a classes.json or CSV; IngestError naming the file when it is unusable."""
    if path.stat().st_size > MAX_CLASSES_FILE_BYTES:
        raise IngestError("bad_classes_file", f"larger than {MAX_CLASSES_FILE_BYTES} bytes", shown)
    pairs = _json_pairs(path, shown) if shown.lower().endswith(".json") else _csv_pairs(path, shown, limits)
    if not 2 <= len(pairs) <= MAX_CLASSES:
        raise IngestError("bad_classes_file", f"names {len(pairs)} classes; between 2 and {MAX_CLASSES} are needed", shown)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise IngestError("bad_classes_file", "a class name is listed twice", shown)
    values = [value for _, value in pairs]
    if len(set(values)) != len(values):
        raise IngestError("bad_classes_file", "two classes have the same id or colour", shown)
    ids = {name: v for name, v in pairs if isinstance(v, int)}
    colours = [v for _, v in pairs if isinstance(v, tuple)]
    if len(ids) == len(pairs):
        if not all(0 <= v < 65536 for v in ids.values()):
            raise IngestError("bad_classes_file", "class ids must be between 0 and 65535", shown)
        ordered = sorted(ids, key=lambda name: ids[name])
        return ClassMap("ids", names=ordered, ids=[ids[name] for name in ordered])
    if len(colours) == len(pairs):
        return ClassMap("colours", names=names, colours=colours)
    raise IngestError("bad_classes_file", "give every class an integer id, or every class a colour (#rrggbb)", shown)


def _json_pairs(path: Path, shown: str) -> list[tuple[str, int | tuple[int, int, int]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError("bad_classes_file", f"not valid JSON: {exc}", shown) from exc
    if isinstance(data, list):  # ["background", "circle", ...]: the position is the id
        if not all(isinstance(n, str) and n.strip() for n in data):
            raise IngestError("bad_classes_file", "a list of classes must hold their names", shown)
        return [(n.strip(), i) for i, n in enumerate(data)]
    if not isinstance(data, dict):
        raise IngestError("bad_classes_file", "must be a list of names or an object", shown)
    if data and all(isinstance(v, str) and not _HEX.match(v) for v in data.values()):  # {"0": "background"}
        return [(str(name).strip(), _int(key, shown)) for key, name in data.items()]
    return [(str(name).strip(), _value(value, shown)) for name, value in data.items()]  # {"circle": 1 or "#ff0000"}


def _csv_pairs(path: Path, shown: str, limits: Limits) -> list[tuple[str, int | tuple[int, int, int]]]:
    header, rows = read_csv(path, limits, name=shown)
    name_col = column(header, ("name", "class", "label"), shown)
    id_col = column(header, ("id", "value", "class_id"), shown, required=False)
    colour_col = column(header, ("color", "colour", "rgb"), shown, required=False)
    rgb = [column(header, c, shown, required=False) for c in ("r", "g", "b")]
    pairs: list[tuple[str, int | tuple[int, int, int]]] = []
    for row in rows:
        name = row[name_col].strip()  # type: ignore[index]
        if id_col is not None:
            pairs.append((name, _int(row[id_col], shown)))
        elif colour_col is not None:
            pairs.append((name, _value(row[colour_col].strip(), shown)))
        elif all(c is not None for c in rgb):
            pairs.append((name, _value([_int(row[c], shown) for c in rgb], shown)))  # type: ignore[index]
        else:
            raise IngestError("bad_classes_file", "needs a name column and an id, colour, or r,g,b columns", shown)
        if not name:
            raise IngestError("bad_classes_file", "a row has no class name", shown)
    return pairs


def _int(raw: Any, shown: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError as exc:
        raise IngestError("bad_classes_file", f"{str(raw)[:40]!r} is not an integer class id", shown) from exc


def _value(raw: Any, shown: str) -> int | tuple[int, int, int]:
    if isinstance(raw, bool):
        raise IngestError("bad_classes_file", f"{raw!r} is not a class id or colour", shown)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _HEX.match(raw):
        number = int(_HEX.match(raw).group(1), 16)  # type: ignore[union-attr]
        return (number >> 16, (number >> 8) & 255, number & 255)
    if isinstance(raw, list) and len(raw) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in raw):
        return (raw[0], raw[1], raw[2])
    raise IngestError("bad_classes_file", f"{str(raw)[:40]!r} is not a class id, #rrggbb or [r, g, b]", shown)
