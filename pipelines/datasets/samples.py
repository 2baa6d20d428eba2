"""Sample datasets made on the spot, never downloaded: scikit-learn's digits and breast-cancer
table, a generated text set, synthetic shapes with segmentation masks, and a synthetic chest CT
set written as real DICOM series: classified by its class folders (``chest_ct``), or segmented by
the lesion mask beside each series (``chest_ct_lesions``: the same patients)."""
from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .synthetic_ct import MASK_NAME, write_chest_ct

# The chest CT samples: 200 patients kept small (48 x 48 pixels, the 16 slices a 2.5 mm scan would
# get: 8 to 30 written, as each scanner's thickness makes) so that writing and ingesting them stay
# about 25 s of one CPU core (pydicom writing and reading each slice file is most of it).
CT_PATIENTS, CT_SLICES, CT_SIZE = 200, 16, 48
CT_OPTIONS = {"volume_shape": [16, CT_SIZE, CT_SIZE], "window": {"preset": "lung"}}
LESION_CLASSES = {"background": 0, "lesion": 1}

SAMPLES: dict[str, dict[str, object]] = {
    "digits": {"kind": "image", "title": "Handwritten digits (scikit-learn, 8x8 images, 10 classes)",
               "options": {}, "file": "digits.zip"},
    "breast_cancer": {"kind": "table", "title": "Breast cancer diagnosis (scikit-learn, 30 numeric columns)",
                      "options": {"target_column": "diagnosis"}, "file": "breast_cancer.csv"},
    "topics": {"kind": "text", "title": "Generated short texts about four topics",
               "options": {"vocab_size": 500, "max_length": 64, "stride": 8}, "file": "topics.csv"},
    "shapes": {"kind": "segmentation", "title": "Synthetic shapes: circles and squares on noise, with masks",
               "options": {}, "file": "shapes.zip"},
    "chest_ct": {"kind": "ct_dicom", "title": "Synthetic chest CT: normal lungs and pneumonia-like opacities",
                 "options": CT_OPTIONS, "file": "chest_ct.zip"},
    "chest_ct_lesions": {"kind": "ct_dicom", "title": "Synthetic chest CT with lesion masks (NIfTI beside each "
                         "series), for 3-D segmentation", "options": CT_OPTIONS, "file": "chest_ct_lesions.zip"},
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


def write_chest_ct_zip(folder: Path, patients: int = CT_PATIENTS, slices: int = CT_SLICES, size: int = CT_SIZE,
                      *, masks: bool = False) -> Path:
    """The chest CT set as ``<class>/case###/IM####.dcm`` in ``folder/chest_ct.zip``; with
    ``masks``, each case's ``lesion_mask.nii.gz`` beside its slices and a ``classes.json`` naming
    the mask's values (``chest_ct_lesions.zip``), which the ingest reads as a segmentation set."""
    source = folder / "chest_ct"
    files = write_chest_ct(source, patients=patients, slices=slices, size=size)
    if masks:
        files += sorted({file.parent / MASK_NAME for file in files})
    path = folder / ("chest_ct_lesions.zip" if masks else "chest_ct.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        if masks:
            zf.writestr("classes.json", json.dumps(LESION_CLASSES))
        for file in sorted(files):
            zf.write(file, file.relative_to(source).as_posix())
    return path


def write_chest_ct_lesions_zip(folder: Path) -> Path:
    return write_chest_ct_zip(folder, masks=True)


SHAPE_CLASSES = {"background": 0, "circle": 1, "square": 2}


def shape_pair(rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image of noise with one to three circles and squares, and its mask of class ids."""
    image = rng.normal(110, 25, (size, size, 3))
    mask = np.zeros((size, size), dtype=np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(1, 3))
        radius = int(rng.integers(size // 10, size // 4))
        cy, cx = (int(v) for v in rng.integers(radius, size - radius, 2))
        if kind == SHAPE_CLASSES["circle"]:
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        else:
            inside = (abs(rows - cy) <= radius) & (abs(cols - cx) <= radius)
        image[inside] = rng.integers(40, 255, 3) + rng.normal(0, 10, (int(inside.sum()), 3))
        mask[inside] = kind
    return np.clip(image, 0, 255).astype(np.uint8), mask


def write_shapes(folder: Path, samples: int = 120, size: int = 64, seed: int = 0) -> Path:
    """images/NNN.png, masks/NNN.png (ids 0 background, 1 circle, 2 square) and classes.json."""
    import json

    rng = np.random.default_rng(seed)
    path = folder / "shapes.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("shapes/classes.json", json.dumps(SHAPE_CLASSES))
        for index in range(samples):
            image, mask = shape_pair(rng, size)
            zf.writestr(f"shapes/images/{index:03d}.png", _png(image))
            zf.writestr(f"shapes/masks/{index:03d}.png", _png(mask))
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "digits": write_digits,
    "breast_cancer": write_breast_cancer,
    "topics": write_topics,
    "shapes": write_shapes,
    "chest_ct": write_chest_ct_zip,
    "chest_ct_lesions": write_chest_ct_lesions_zip,
}


def write_sample(name: str, folder: Path) -> Path:
    """Write the sample's source file into ``folder`` and return its path."""
    if name not in WRITERS:
        raise KeyError(f"unknown sample dataset {name!r}; use one of {', '.join(sorted(WRITERS))}")
    folder.mkdir(parents=True, exist_ok=True)
    return WRITERS[name](folder)
