"""Small models with the cards ingest would give them: a 2D CT slice classifier, a 3D volume
classifier and a table classifier (random weights: the tests check the preprocessing path), plus
files to send them."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

CT_CLASSES = ["normal", "pneumonia"]
LUNG = {"preset": "lung", "center": None, "width": None, "low": -1350.0, "high": 150.0}


def ct_document(mode: str = "2d", side: int = 16, depth: int = 8) -> dict[str, Any]:
    shape = {"channels": 1, "height": side, "width": side}
    first = ({"id": "image", "type": "image_input", "params": shape} if mode == "2d" else
             {"id": "image", "type": "volume_input", "params": {**shape, "depth": depth}})
    nodes = [first, {"id": "flat", "type": "flatten", "params": {}},
             {"id": "logits", "type": "linear", "params": {"out_features": 2}}]
    edges = [{"source": "image", "target": "flat"}, {"source": "flat", "target": "logits"}]
    return {"schema_version": 1, "name": f"ct-{mode}", "nodes": nodes, "edges": edges}


def ct_recipe(mode: str = "2d", side: int = 16, depth: int = 8) -> dict[str, Any]:
    return {"input": "ct", "layout": "N1HW" if mode == "2d" else "N1DHW", "dtype": "int16", "unit": "HU",
            "mode": mode, "volume_shape": [depth, side, side], "spacing": None, "window": LUNG, "resize": None}


def package(document: dict[str, Any], preprocessing: dict[str, Any], classes: list[str]) -> Any:
    import torch

    from builder.graph import compile_graph
    from pipelines.export.package import ModelPackage, make_card

    torch.manual_seed(0)
    weights = compile_graph(document).state_dict()
    card = make_card(document, name=document["name"], classes=classes, preprocessing=preprocessing)
    return ModelPackage(document, {k: v.clone() for k, v in weights.items()}, card)


def table_encoding() -> dict[str, Any]:
    from pipelines.datasets.options import TableOptions
    from pipelines.datasets.tables import build_encoding

    header = ["age", "smoker", "risk"]
    rows = [["40", "yes", "high"], ["30", "no", "low"], ["", "no", "low"], ["55", "yes", "high"]]
    return build_encoding(header, rows, TableOptions(target_column="risk"))


def table_document(features: int) -> dict[str, Any]:
    nodes = [{"id": "features", "type": "vector_input", "params": {"features": features}},
             {"id": "logits", "type": "linear", "params": {"out_features": 2}}]
    return {"schema_version": 1, "name": "table", "nodes": nodes, "edges": [{"source": "features", "target": "logits"}]}


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def digit_png(index: int) -> tuple[bytes, int]:
    """A test digit as the digits sample writes it (8-bit PNG), and its label."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return png((digits.images[index] / 16.0 * 255).round().astype(np.uint8)), int(digits.target[index])


def ct_small() -> bytes:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("CT_small.dcm")).read_bytes()


def nifti(shape: tuple[int, int, int] = (20, 20, 10), gz: bool = True) -> bytes:
    import gzip

    import nibabel

    volume = np.random.default_rng(0).normal(-600, 300, shape).astype(np.int16)
    image = nibabel.Nifti1Image(volume, np.diag([0.8, 0.8, 2.5, 1.0]))
    raw = image.to_bytes()
    return gzip.compress(raw) if gz else raw
