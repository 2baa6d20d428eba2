"""The market's own trained models: small networks that the real engine trains on the sample
datasets, with everything their model cards report measured here. Pure Python and PyTorch, no
Django; ``domain.market.seed`` publishes them.

Each model goes the way a user's run goes: the sample is written, ingested into a cache (with its
train / validation / test split), trained by ``pipelines.training.engine.fit`` on the cached
loaders with a fixed seed in fp32, and measured on the test split with the best checkpoint.
"""
from __future__ import annotations

import copy
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pipelines.datasets.ingest import ingest
from pipelines.datasets.samples import SAMPLES, write_sample

SEED = 0


@dataclass(frozen=True)
class SeedModel:
    """One model the market ships: how its data is made, its graph and its training config."""

    key: str  # stable: the entry's seed_key is "model:<key>"
    title: str
    description: str
    sample: str  # a name in pipelines.datasets.samples.SAMPLES
    modality: str
    licence: str  # of the weights: that of the data they were trained on
    graph: Callable[[dict[str, Any]], dict[str, Any]]  # the ingest recipe -> graph document
    config: dict[str, Any]  # a RunConfig, as JSON
    ingest_options: dict[str, Any] = field(default_factory=dict)  # over the sample's own options
    write: Callable[[Path], Path] | None = None  # default: the sample's own writer
    data_note: str = ""


@dataclass
class TrainedModel:
    spec: SeedModel
    document: dict[str, Any]
    weights: dict[str, torch.Tensor]
    classes: list[str]
    preprocessing: dict[str, Any]  # the ingest recipe and the resize, as a run's artifact records it
    metrics: dict[str, Any]  # {"best": validation at the best epoch, "test": the test split}
    config: dict[str, Any]
    dataset: dict[str, Any]  # what the model was trained and measured on
    seconds: float


def chain(name: str, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A graph document of nodes each feeding the next (no positions: the canvas lays it out)."""
    return {
        "schema_version": 1, "name": name,
        "nodes": [{"id": node_id, "type": type_id, "params": params} for node_id, type_id, params in nodes],
        "edges": [{"source": a[0], "source_port": "out", "target": b[0], "target_port": "in"}
                  for a, b in zip(nodes, nodes[1:], strict=False)]}


def digits_cnn(recipe: dict[str, Any]) -> dict[str, Any]:
    """LeNet's conv / pool / dense shape at the digits' own 8x8 (no upscaling to 32x32)."""
    height, width = recipe["size"]
    return chain(
        "Digits CNN",
        ("image", "image_input", {"channels": int(recipe["channels"]), "height": height, "width": width}),
        ("c1", "conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}), ("relu1", "relu", {}),
        ("s2", "max_pool2d", {"kernel_size": 2}),
        ("c3", "conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}), ("relu2", "relu", {}),
        ("s4", "max_pool2d", {"kernel_size": 2}),
        ("flatten", "flatten", {}),
        ("f5", "linear", {"out_features": 64}), ("relu3", "relu", {}),
        ("logits", "linear", {"out_features": len(recipe["classes"])}))


def table_mlp(recipe: dict[str, Any]) -> dict[str, Any]:
    """The ``tabular_mlp`` template sized to the table's encoded features and classes."""
    from builder.graph.templates import get_template

    document = get_template("tabular_mlp")
    _set_params(document, "features", features=len(recipe["features"]))
    _set_params(document, "logits", out_features=len(recipe["classes"]))
    document["name"] = "Breast cancer MLP"
    return document


CT_WIDTHS = (8, 16, 32)  # channels of the three conv stages: the template's own (4, 8, 16 learnt the lesions less)


def ct_cnn3d_small(recipe: dict[str, Any]) -> dict[str, Any]:
    """The ``ct_cnn3d`` template with ``CT_WIDTHS`` channels, on the recipe's volume shape."""
    from builder.graph.templates import get_template

    document = get_template("ct_cnn3d")
    depth, height, width = recipe["volume_shape"]
    _set_params(document, "volume", depth=depth, height=height, width=width)
    convs = [node for node in document["nodes"] if node["type"] == "conv3d"]
    for node, channels in zip(convs, CT_WIDTHS, strict=True):
        node["params"]["out_channels"] = channels
    _set_params(document, "logits", out_features=len(recipe["classes"]))
    document["name"] = "Chest CT 3-D CNN"
    return document


def _set_params(document: dict[str, Any], node_id: str, **params: Any) -> None:
    node = next(n for n in document["nodes"] if n["id"] == node_id)
    node["params"] = {**node.get("params", {}), **params}


# The market model's set: the bench's generator and geometry (bench/ct_difficulty.py runs 200 patients of
# it), with 64 patients and 10 epochs so that seeding stays a few minutes of one worker's CPU at `make run`.
CT_PATIENTS, CT_SIZE, CT_SLICES, CT_SET_SEED = 64, 96, 32, 14


def chest_ct_zip(folder: Path, patients: int, slices: int, size: int, seed: int) -> Path:
    """``patients`` of the chest CT generator (half with lesions), ``size`` x ``size`` pixels and
    about ``slices`` slices, written under ``folder`` and zipped as an upload."""
    from pipelines.datasets.synthetic_ct import write_chest_ct

    source = folder / "chest_ct"
    files = write_chest_ct(source, patients=patients, slices=slices, size=size, seed=seed)
    path = folder / "chest_ct.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for file in files:
            zf.write(file, file.relative_to(source).as_posix())
    return path


def chest_ct_set(folder: Path) -> Path:
    """The set the market model learns from: ``CT_PATIENTS`` patients of the generator and geometry
    of ``bench/ct_difficulty.py``, which shows on 200 patients that no global statistic separates them."""
    return chest_ct_zip(folder, CT_PATIENTS, CT_SLICES, CT_SIZE, CT_SET_SEED)


SEED_MODELS: tuple[SeedModel, ...] = (
    SeedModel(
        key="digits_cnn", title="Digits CNN (LeNet-style, 8x8)", sample="digits", modality="image",
        licence="CC-BY-4.0 (trained on the UCI optical recognition of handwritten digits data)",
        description="A LeNet-style convolutional network for handwritten digits: two conv/pool stages "
                    "and two dense layers on 8x8 greyscale images, trained on the digits sample.",
        graph=digits_cnn,
        config={"epochs": 8, "batch_size": 64, "seed": SEED, "optimizer": {"name": "adam", "lr": 5e-3},
                "device": {"kind": "cpu"}, "stats_every": 1000}),
    SeedModel(
        key="breast_cancer_mlp", title="Breast cancer MLP", sample="breast_cancer", modality="table",
        licence="CC-BY-4.0 (trained on the UCI breast cancer Wisconsin (diagnostic) data)",
        description="A two-layer MLP with batch norm and dropout that tells malignant from benign "
                    "tumours from the 30 measurements of the breast-cancer sample table.",
        graph=table_mlp,
        config={"epochs": 10, "batch_size": 32, "seed": SEED, "optimizer": {"name": "adam", "lr": 3e-3},
                "device": {"kind": "cpu"}, "stats_every": 1000}),
    SeedModel(
        key="chest_ct_cnn3d", title="Chest CT 3-D CNN (synthetic pneumonia)", sample="chest_ct",
        modality="ct", licence="CC0-1.0 (trained on generated data)",
        description="The ct_cnn3d template (8, 16 and 32 channels) on 32x64x64 volumes, trained to tell normal "
                    "lungs from lungs with ground-glass or consolidated lesions in the synthetic chest CT set, "
                    "where atelectasis, vessels, motion and noise make global statistics useless. Its test "
                    "accuracy is on its card; this set is hard for a network trained on labels alone (docs/bench/ct.md): "
                    "the ct_lesion_cnn3d template, whose U-Net learns from the lesion masks first, reads it. For "
                    "trying the CT workflow, not for clinical use.",
        graph=ct_cnn3d_small,
        # Cosine decay: batch norm's running statistics settle while the weights do.
        config={"epochs": 10, "batch_size": 8, "seed": SEED, "optimizer": {"name": "adam", "lr": 5e-3},
                "schedule": {"name": "cosine"}, "device": {"kind": "cpu"}, "stats_every": 1000},
        ingest_options={"volume_shape": [32, 64, 64], "val_fraction": 0.2, "test_fraction": 0.2},
        write=chest_ct_set,
        data_note=f"the chest CT generator (pipelines/datasets/synthetic_ct.py, seed {CT_SET_SEED}) with "
                  f"{CT_PATIENTS} patients of {CT_SIZE}x{CT_SIZE} pixels and about {CT_SLICES} slices (half "
                  "normal, half with 1-4 lesions), resampled to 32x64x64; split by patient"),
)


def seed_model(key: str) -> SeedModel:
    for spec in SEED_MODELS:
        if spec.key == key:
            return spec
    raise KeyError(f"no seeded model {key!r}; known: {', '.join(s.key for s in SEED_MODELS)}")


def cache_folder(workdir: Path) -> Path:
    """Where ``train_seed_model`` leaves the ingested cache (splits, targets, inputs) in ``workdir``."""
    return workdir / "work" / "cache"


def train_seed_model(spec: SeedModel, workdir: Path | None = None) -> TrainedModel:
    """Make ``spec``'s data, train its graph with the engine, and measure it on the test split.
    ``workdir`` (default: a temporary folder, removed after) keeps the sample, its cache and the
    checkpoints."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=f"seed-{spec.key}-") as folder:
            return train_seed_model(spec, Path(folder))
    workdir.mkdir(parents=True, exist_ok=True)
    from builder.graph import compile_graph, validate
    from pipelines.training.config import parse_config
    from pipelines.training.data import cached_loaders
    from pipelines.training.engine import fit

    started = time.perf_counter()
    sample = SAMPLES[spec.sample]
    source = spec.write(workdir) if spec.write is not None else write_sample(spec.sample, workdir)
    options = {**copy.deepcopy(dict(sample["options"])), **spec.ingest_options}  # type: ignore[call-overload]
    result = ingest(str(sample["kind"]), source, source.name, workdir / "work", options)
    cache = cache_folder(workdir)
    recipe = {**result.recipe, "classes": result.classes}
    document = spec.graph(recipe)
    report = validate(document)
    if not report.ok:
        raise ValueError(f"the graph of {spec.key} is not valid: {report.errors[0].message}")
    config = parse_config(spec.config)
    resize = _resize(document, result.recipe)
    data = cached_loaders(cache, batch_size=config.batch_size, seed=config.seed, classes=len(result.classes),
                          resize=tuple(resize) if resize else None)
    model = compile_graph(document)
    layer_flops = {node_id: info.flops for node_id, info in report.nodes.items() if info.flops}
    fitted = fit(model, data, config, device=torch.device("cpu"), checkpoint_dir=workdir / "checkpoints",
                 layer_flops=layer_flops)
    return TrainedModel(
        spec=spec, document=document,
        weights={k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        classes=list(result.classes), preprocessing={**result.recipe, "resize": resize},
        metrics={"best": fitted.best, "test": fitted.test_metrics}, config=config.model_dump(mode="json"),
        dataset={"name": spec.sample, "title": str(sample["title"]), "kind": str(sample["kind"]),
                 "split": "test", "samples": _split_counts(result.samples), "note": spec.data_note,
                 "split_seed": result.recipe.get("splits", {}).get("seed")},
        seconds=round(time.perf_counter() - started, 2))


def _resize(document: dict[str, Any], recipe: dict[str, Any]) -> list[int] | None:
    """The (H, W) images are resized to when the graph's input differs from the data's."""
    if recipe.get("input") != "image":
        return None
    node = next(n for n in document["nodes"] if n["type"] == "image_input")
    size = [int(node["params"]["height"]), int(node["params"]["width"])]
    return size if size != [int(s) for s in recipe["size"]] else None


def _split_counts(samples: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in samples:
        split = str(sample.get("split", ""))
        counts[split] = counts.get(split, 0) + 1
    return counts

