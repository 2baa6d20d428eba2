"""``predict``: one upload through the model's own preprocessing and the model, answered as a label
with class probabilities (highest first)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .preprocess import Upload, prepare_with_warnings
from .protocol import ProtocolError
from .runtime import LoadedModel


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def predict(model: LoadedModel, upload: Upload) -> dict[str, Any]:
    """``{"label", "probabilities": {class: p}}`` for a classifier (a slice model given a volume
    averages its slices' probabilities: ``"samples"`` says how many), ``{"value"}`` for a regressor;
    with ``"warnings"`` (``{code, message}``) when the input's geometry had something to say, as the
    ingest says it at a series (irregular slice positions resampled, missing slices...).
    Raises ``ProtocolError``."""
    prepared = prepare_with_warnings(model.card, upload)
    batch = prepared.batch
    notes = {"warnings": prepared.warnings} if prepared.warnings else {}
    output = np.asarray(model.infer([batch])[0], dtype=np.float64)
    if model.card.get("task") == "regression":
        return {"value": float(output.reshape(len(batch), -1)[:, 0].mean()), "samples": len(batch), **notes}
    classes = [str(c) for c in model.card.get("classes") or []]
    if output.ndim != 2 or not classes or output.shape[1] != len(classes):
        raise ProtocolError(400, "name", f"the model returns {list(output.shape)}, not one score per class "
                            f"({len(classes)}); use infer", "unsupported_model")
    already = bool((output >= 0).all()) and np.allclose(output.sum(axis=1), 1.0, atol=1e-4)  # a softmax head
    probabilities = (output if already else softmax(output)).mean(axis=0)
    order = np.argsort(-probabilities, kind="stable")
    return {"label": classes[int(order[0])],
            "probabilities": {classes[int(i)]: round(float(probabilities[i]), 6) for i in order},
            "samples": len(batch), **notes}
