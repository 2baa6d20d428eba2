"""Start from the data: the closest template sized to a dataset, and a graph's input adapted to one.

``propose_for_data(summary)`` picks the shipped template nearest to what a dataset version holds
(images of a size and colour, CT volumes, a table, text; images, CT slices or CT volumes with label
masks for segmentation) and adapts it: the input node takes one sample of the data, the last layer
gives one value per class (per pixel or voxel for segmentation; one value for regression), and a
graph that no longer fits the smaller input gets padded convolutions, then fewer pools, until it
validates. ``adapt_input(document, summary)`` does the same to an existing graph, for the Train
form's "Adapt the input to this dataset". Both return the new document and notes a person reads:
what was kept and what was changed. Both raise ``ProposalError`` when they can't give a graph that
validates for the data, saying why.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .layout import layout_document
from .report import ValidationReport
from .templates import get_template, list_templates
from .validate import validate

__all__ = ["DataSummary", "ProposalError", "adapt_input", "closest_template", "propose_for_data"]

MODALITIES = ("image", "ct", "table", "text")
TASKS = ("classification", "regression", "segmentation")
# What input node holds one sample of each kind of data, by the sample's rank.
_INPUT_TYPES = {("image", 3): "image_input", ("ct", 3): "image_input", ("ct", 4): "volume_input",
                ("table", 1): "vector_input", ("text", 1): "token_input"}
_INPUT_PARAMS = {"image_input": ("channels", "height", "width"),
                 "volume_input": ("channels", "depth", "height", "width"),
                 "vector_input": ("features",), "token_input": ("seq_len",)}
_INPUT_WORDS = {"image_input": "images", "volume_input": "3-D volumes", "vector_input": "feature vectors",
                "token_input": "token sequences", "sequence_input": "float sequences"}
# Samples a segmentation template is shipped for: 2-D images and CT slices (unet2d), CT volumes (unet3d).
_SEGMENTED = frozenset({("image", 3), ("ct", 3), ("ct", 4)})
_POOLS = frozenset({"max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"})
_CONVS = frozenset({"conv1d", "conv2d", "conv3d"})
_HEADS = {"linear": "out_features", "conv1d": "out_channels", "conv2d": "out_channels", "conv3d": "out_channels"}
MAX_REPAIRS = 8


class ProposalError(ValueError):
    """The data can't be described, or no graph that validates for it could be made; ``field``
    names what is at fault (``modality``, ``shape``, ``classes``, ``document``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DataSummary:
    """What a dataset version knows about one sample and its target.

    ``shape`` is one sample: ``(C, H, W)`` for images and 2-D CT slices, ``(C, D, H, W)`` for CT
    volumes, ``(features,)`` for a table, ``(tokens,)`` for text. ``classes`` counts the classes
    of a classification or segmentation target (ignored for regression).
    """

    modality: str
    shape: tuple[int, ...]
    task: str = "classification"
    classes: int = 0
    vocab_size: int | None = None
    name: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSummary:
        """Read and check a summary; ``ProposalError`` naming the first bad field."""
        modality = str(data.get("modality", ""))
        if modality not in MODALITIES:
            raise ProposalError("modality", f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
        task = str(data.get("task") or "classification")
        if task not in TASKS:
            raise ProposalError("task", f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        raw = data.get("shape")
        if not isinstance(raw, list | tuple) or not raw or not all(type(s) is int and s > 0 for s in raw):
            raise ProposalError("shape", f"the sample shape must be a list of positive integers, not {raw!r}")
        shape = tuple(raw)
        if (modality, len(shape)) not in _INPUT_TYPES:
            raise ProposalError("shape", f"{modality} samples of shape {list(shape)} are not supported")
        classes = data.get("classes") or 0
        if type(classes) is not int or classes < 0:
            raise ProposalError("classes", f"classes must be a count, not {classes!r}")
        if task != "regression" and classes < 2:
            raise ProposalError("classes", f"the data has {classes} class{'es' if classes != 1 else ''}; "
                                f"{task} needs at least 2")
        if task == "segmentation" and (modality, len(shape)) not in _SEGMENTED:
            raise ProposalError("task", "segmentation is supported for 2-D images, CT slices and CT volumes only")
        vocab = data.get("vocab_size")
        if modality == "text" and (type(vocab) is not int or vocab < 2):
            raise ProposalError("vocab_size", f"text needs the tokenizer's vocabulary size, not {vocab!r}")
        return cls(modality, shape, task, classes, vocab if modality == "text" else None, str(data.get("name", "")))

    @property
    def input_type(self) -> str:
        return _INPUT_TYPES[(self.modality, len(self.shape))]

    @property
    def outputs(self) -> int:
        return 1 if self.task == "regression" else self.classes


# ---- choosing and adapting ---------------------------------------------------------------------------
def closest_template(summary: DataSummary) -> tuple[str, str]:
    """``(template id, why)``: the shipped template nearest to the data."""
    if summary.task == "segmentation" and summary.input_type == "volume_input":
        return "unet3d", "a 3-D U-Net gives one class per voxel"
    if summary.task == "segmentation":
        return "unet2d", "a U-Net gives one class per pixel"
    if summary.input_type == "volume_input":
        return "ct_cnn3d", "3-D convolutions for CT volumes"
    if summary.modality == "table":
        return "tabular_mlp", "a small network for one row of features"
    if summary.modality == "text":
        return "text_transformer", "a small transformer over the tokens"
    channels, height, width = summary.shape
    side = max(height, width)
    if side <= 28 or (channels == 1 and side <= 32):
        return "lenet5", "a small convolutional network for small images"
    if side <= 64:
        return "resnet18_cifar", "ResNet-18 made for small (CIFAR-sized) images"
    return "resnet18_imagenet", "ResNet-18 for full-sized photos"


def propose_for_data(summary: DataSummary | Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The closest template adapted to the data: ``(document, notes)``. The document validates
    for one sample of ``summary.shape`` and its output is one value per class (one value for
    regression). Raises ``ProposalError`` for a bad summary or when no valid graph was found."""
    summary = summary if isinstance(summary, DataSummary) else DataSummary.from_dict(summary)
    template_id, why = closest_template(summary)
    names = {t["id"]: t["name"] for t in list_templates()}
    document = get_template(template_id)
    if summary.name:
        document["name"] = f"{summary.name} model"
    notes = [f"started from the {names[template_id]} template: {why}"]
    document, changes = _adapt(document, summary, kept_from=names[template_id])
    return document, notes + changes


def adapt_input(document: Mapping[str, Any], summary: DataSummary | Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``document`` with its input set to one sample of the data, and whatever else must change
    to stay valid (padding, pools, the output's size, an embedding's vocabulary): ``(document,
    notes)``; the given document is not changed. Raises ``ProposalError`` when the graph has not
    one input of the data's kind or still does not validate, saying why."""
    summary = summary if isinstance(summary, DataSummary) else DataSummary.from_dict(summary)
    return _adapt(copy.deepcopy(dict(document)), summary, kept_from="the graph")


def _adapt(document: dict[str, Any], summary: DataSummary, *, kept_from: str) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    before = validate(document)
    node = _single_input(document, before, summary)
    _set_input(document, node, summary, notes)
    _set_embeddings(document, summary, notes)
    report = validate(document)
    _set_head(document, report, summary, notes)
    report = _make_valid(document, summary, notes, kept_from)
    if not report.ok:
        shown = "; ".join(e.message for e in report.errors[:3])
        raise ProposalError("document", f"the graph can't take {_shape_words(summary)}: {shown}"
                            + _halving_hint(document, summary))
    _check_output(report, summary)
    return document, notes


def _single_input(document: dict[str, Any], report: ValidationReport, summary: DataSummary) -> dict[str, Any]:
    nodes = {n.get("id"): n for n in document.get("nodes", [])}
    inputs = [nodes[i] for i in report.inputs if i in nodes]
    if len(inputs) != 1:
        raise ProposalError("document", f"the graph has {len(inputs)} inputs; adapting needs exactly one")
    node = inputs[0]
    if node.get("type") != summary.input_type:
        have = _INPUT_WORDS.get(str(node.get("type")), str(node.get("type")))
        raise ProposalError("document", f"the graph's input '{node['id']}' takes {have} but the dataset holds "
                            f"{_INPUT_WORDS[summary.input_type]}: start a new graph from the data instead")
    return node


def _set_input(document: dict[str, Any], node: dict[str, Any], summary: DataSummary, notes: list[str]) -> None:
    params = dict(node.get("params") or {})
    keys = _INPUT_PARAMS[summary.input_type]
    old = [params.get(k) for k in keys]
    new = list(summary.shape)
    params.update(zip(keys, new, strict=True))
    if summary.input_type == "token_input":
        old.append(params.get("vocab_size"))
        params["vocab_size"] = summary.vocab_size
        new.append(summary.vocab_size)  # type: ignore[arg-type]
    node["params"] = params
    if old != new:
        notes.append(f"input '{node['id']}' set to {_shape_words(summary)} (was {_join(old, keys)})")
    else:
        notes.append(f"input '{node['id']}' already takes {_shape_words(summary)}")


def _set_embeddings(document: dict[str, Any], summary: DataSummary, notes: list[str]) -> None:
    """Token ids run up to the vocabulary, and positions up to the sequence length."""
    if summary.modality != "text":
        return
    for node in document.get("nodes", []):
        params = node.setdefault("params", {})
        if node.get("type") == "embedding" and params.get("num_embeddings") != summary.vocab_size:
            notes.append(f"embedding '{node['id']}' sized to the vocabulary of {summary.vocab_size} tokens "
                         f"(was {params.get('num_embeddings')})")
            params["num_embeddings"] = summary.vocab_size
        if node.get("type") == "positional_encoding" and int(params.get("max_len", 0)) < summary.shape[0]:
            notes.append(f"positional encoding '{node['id']}' extended to {summary.shape[0]} positions")
            params["max_len"] = summary.shape[0]


def _set_head(document: dict[str, Any], report: ValidationReport, summary: DataSummary, notes: list[str]) -> None:
    """The layer that makes the output gives one value per class (regression: one value)."""
    head = _head_node(document, report)
    if head is None:
        return
    key = _HEADS[head["type"]]
    params = head.setdefault("params", {})
    what = "1 value (regression)" if summary.task == "regression" else f"{summary.classes} classes"
    if params.get(key) != summary.outputs:
        notes.append(f"output '{head['id']}' set to {what} (was {params.get(key)})")
        params[key] = summary.outputs
    else:
        notes.append(f"output '{head['id']}' kept: {what}")


def _head_node(document: dict[str, Any], report: ValidationReport) -> dict[str, Any] | None:
    """The last linear or convolution on the way to the single output, through shape-keeping
    layers (activations, dropout)."""
    if len(report.outputs) != 1:
        return None
    nodes = {n.get("id"): n for n in document.get("nodes", [])}
    parents: dict[str, list[str]] = {}
    for edge in document.get("edges", []):
        parents.setdefault(str(edge.get("target")), []).append(str(edge.get("source")))
    current = report.outputs[0].split(":")[0]
    for _step in range(5):
        node = nodes.get(current)
        if node is None:
            return None
        if node.get("type") in _HEADS:
            return node
        if len(parents.get(current, [])) != 1:
            return None
        current = parents[current][0]
    return None


# ---- repairs -------------------------------------------------------------------------------------
def _make_valid(document: dict[str, Any], summary: DataSummary, notes: list[str], kept_from: str) -> ValidationReport:
    """Validate; on errors pad unpadded convolutions, then drop the pool nearest above the first
    failing node, one at a time, until the graph validates or nothing is left to try."""
    report = validate(document)
    if report.ok:
        if not any(n.startswith(("gave", "dropped")) for n in notes):
            notes.append(f"kept the layers of {kept_from}: they fit {_shape_words(summary)}")
        return report
    padded = _pad_convolutions(document)
    if padded:
        report = validate(document)
        notes.append(f"gave convolution{'s' if len(padded) > 1 else ''} {', '.join(padded)} 'same' padding so "
                     f"{_size_words(summary)} fits")
    dropped: list[str] = []
    before_drops = copy.deepcopy(document)
    for _attempt in range(MAX_REPAIRS):
        if report.ok:
            break
        pool = _pool_above(document, report)
        if pool is None:
            break
        _remove_node(document, pool)
        dropped.append(pool)
        report = validate(document)
    if dropped and not report.ok:  # fewer pools did not help (a U-Net's skips): report the graph as it was
        document.clear()
        document.update(before_drops)
        dropped = []
        report = validate(document)
    if dropped:
        notes.append(f"dropped pooling layer{'s' if len(dropped) > 1 else ''} {', '.join(dropped)}: "
                     f"{_size_words(summary)} is too small to halve that often")
        for node in document.get("nodes", []):
            node.pop("position", None)
        layout_document(document)
    if report.ok:
        notes.append(f"kept the other layers of {kept_from}")
    return report


def _pad_convolutions(document: dict[str, Any]) -> list[str]:
    """Give stride-1 convolutions with odd kernels and no padding ``kernel // 2`` padding, so
    they keep the size. Returns the ids changed."""
    changed = []
    for node in document.get("nodes", []):
        params = node.setdefault("params", {})
        kernel = params.get("kernel_size", 3)
        if (node.get("type") in _CONVS and params.get("padding", 0) in (0, "valid") and params.get("stride", 1) == 1
                and params.get("dilation", 1) == 1 and type(kernel) is int and kernel % 2 == 1 and kernel > 1):
            params["padding"] = kernel // 2
            changed.append(str(node["id"]))
    return changed


def _pool_above(document: dict[str, Any], report: ValidationReport) -> str | None:
    """The pool closest above the first node with an error (the error node itself included)."""
    failing = next((e.node_id for e in report.errors if e.node_id), None)
    if failing is None:
        return None
    types = {n.get("id"): n.get("type") for n in document.get("nodes", [])}
    parents: dict[str, list[str]] = {}
    for edge in document.get("edges", []):
        parents.setdefault(str(edge.get("target")), []).append(str(edge.get("source")))
    frontier, seen = [failing], {failing}
    while frontier:  # breadth first: the nearest pool upstream
        following = []
        for node_id in frontier:
            if types.get(node_id) in _POOLS and len(parents.get(node_id, [])) == 1:
                return node_id
            for parent in parents.get(node_id, []):
                if parent not in seen:
                    seen.add(parent)
                    following.append(parent)
        frontier = following
    return None


def _remove_node(document: dict[str, Any], node_id: str) -> None:
    """Take a one-input node out, wiring its input straight to what it fed."""
    edges = document.get("edges", [])
    incoming = next(e for e in edges if e.get("target") == node_id)
    kept = []
    for edge in edges:
        if edge is incoming:
            continue
        if edge.get("source") == node_id:
            edge = {**edge, "source": incoming["source"], "source_port": incoming.get("source_port", "out")}
        kept.append(edge)
    document["edges"] = kept
    document["nodes"] = [n for n in document.get("nodes", []) if n.get("id") != node_id]


def _check_output(report: ValidationReport, summary: DataSummary) -> None:
    node_id, port = report.outputs[0].split(":") if len(report.outputs) == 1 else ("", "")
    if not node_id:
        raise ProposalError("document", f"the graph has {len(report.outputs)} outputs; training needs one")
    shape = list(report.nodes[node_id].outputs[port])
    if summary.task == "segmentation":
        fits = (len(shape) == len(summary.shape) + 1 and shape[1] == summary.classes
                and shape[2:] == list(summary.shape[1:]))
        want = f"[N, {', '.join(map(str, (summary.classes, *summary.shape[1:])))}]"
    elif summary.task == "regression":
        fits, want = shape[1:] in ([], [1]), "one value per sample"
    else:
        fits, want = shape[1:] == [summary.classes], f"[N, {summary.classes}]"
    if not fits:
        raise ProposalError("document", f"the graph's output '{node_id}' is {shape}, not {want}: "
                            "end it with a layer of that size")


def _halving_hint(document: dict[str, Any], summary: DataSummary) -> str:
    """For a graph that halves the image and joins skips (a U-Net): the sizes that would fit."""
    halvings = sum(1 for n in document.get("nodes", []) if n.get("type") in _POOLS)
    step = 2 ** halvings
    if summary.task != "segmentation" or halvings == 0:
        return ""
    sizes = "×".join(str(max(step, round(s / step) * step)) for s in summary.shape[1:])
    if summary.input_type == "volume_input":
        return (f". It halves the volume {halvings} times, so each side must divide by {step}: ingest a "
                f"version with volume_shape {sizes}")
    return (f". It halves the image {halvings} times, so each side must divide by {step}: ingest a "
            f"version resized to {sizes}")


# ---- words -----------------------------------------------------------------------------------------
def _size_words(summary: DataSummary) -> str:
    return "×".join(map(str, summary.shape[1:] if summary.input_type in ("image_input", "volume_input")
                        else summary.shape))


def _shape_words(summary: DataSummary) -> str:
    """``1×8×8 (grey)``, ``3×32×32 (RGB)``, ``1×32×64×64 (CT volume)``, ``12 features``."""
    dims = "×".join(map(str, summary.shape))
    kind = summary.input_type
    if kind == "image_input":
        colour = {1: "grey", 3: "RGB"}.get(summary.shape[0], f"{summary.shape[0]} channels")
        return f"{dims} ({colour}{', CT slice' if summary.modality == 'ct' else ''})"
    if kind == "volume_input":
        return f"{dims} (CT volume)"
    if kind == "vector_input":
        return f"{summary.shape[0]} features"
    return f"{summary.shape[0]} tokens from a vocabulary of {summary.vocab_size}"


def _join(values: list[Any], keys: tuple[str, ...]) -> str:
    if all(type(v) is int for v in values):
        return "×".join(map(str, values))
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))
