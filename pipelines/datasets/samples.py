"""Sample datasets made on the spot, never downloaded: scikit-learn's digits and breast-cancer
table, a generated text set, and a synthetic chest CT set written as real DICOM series."""
from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .synthetic_ct import write_chest_ct

SAMPLES: dict[str, dict[str, object]] = {
    "digits": {"kind": "image", "title": "Handwritten digits (scikit-learn, 8x8 images, 10 classes)",
               "options": {}, "file": "digits.zip"},
    "breast_cancer": {"kind": "table", "title": "Breast cancer diagnosis (scikit-learn, 30 numeric columns)",
                      "options": {"target_column": "diagnosis"}, "file": "breast_cancer.csv"},
    "topics": {"kind": "text", "title": "Generated short texts about four topics",
               "options": {"vocab_size": 500, "max_length": 64, "stride": 8}, "file": "topics.csv"},
    "chest_ct": {"kind": "ct_dicom", "title": "Synthetic chest CT: normal lungs and pneumonia-like opacities",
                 "options": {"volume_shape": [32, 64, 64], "window": {"preset": "lung"}}, "file": "chest_ct.zip"},
}


def write_digits(folder: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = folder / "digits.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
            pixels = (image / 16.0 * 255).round().astype(np.uint8)
            zf.writestr(f"digits/{label}/{index:04d}.png", _png(pixels))
    return path


def _png(pixels: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_breast_cancer(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    path = folder / "breast_cancer.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*data.feature_names, "diagnosis"])
        for row, target in zip(data.data, data.target, strict=True):
            writer.writerow([*(f"{v:.6g}" for v in row), data.target_names[target]])
    return path


TOPICS = {
    "sports": "match team goal coach season player league score stadium referee championship win",
    "science": "experiment theory atom cell energy physics biology laboratory data hypothesis molecule",
    "cooking": "recipe oven flour garlic simmer butter sauce bake pepper onion kitchen taste",
    "travel": "flight hotel passport beach museum train mountain map island journey luggage city",
}
GLUE = "the a of and with in on for this that very really then after before today".split()


def write_topics(folder: Path, documents: int = 400, seed: int = 0) -> Path:
    """Short texts (and a few long ones, to exercise chunking) about four topics."""
    rng = np.random.default_rng(seed)
    path = folder / "topics.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for index in range(documents):
            label = sorted(TOPICS)[index % len(TOPICS)]
            words = TOPICS[label].split()
            length = int(rng.integers(8, 30)) if index % 25 else int(rng.integers(150, 300))
            tokens = [str(rng.choice(words)) if rng.random() < 0.6 else str(rng.choice(GLUE)) for _ in range(length)]
            writer.writerow([" ".join(tokens).capitalize() + ".", label])
    return path


def write_chest_ct_zip(folder: Path, patients: int = 12, slices: int = 24, size: int = 64) -> Path:
    source = folder / "chest_ct"
    write_chest_ct(source, patients=patients, slices=slices, size=size)
    path = folder / "chest_ct.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(source.rglob("*.dcm")):
            zf.write(file, file.relative_to(source).as_posix())
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "digits": write_digits,
    "breast_cancer": write_breast_cancer,
    "topics": write_topics,
    "chest_ct": write_chest_ct_zip,
}


def write_sample(name: str, folder: Path) -> Path:
    """Write the sample's source file into ``folder`` and return its path."""
    if name not in WRITERS:
        raise KeyError(f"unknown sample dataset {name!r}; use one of {', '.join(sorted(WRITERS))}")
    folder.mkdir(parents=True, exist_ok=True)
    return WRITERS[name](folder)
