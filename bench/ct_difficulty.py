"""Benchmark of the synthetic chest CT's difficulty: a model has to find the lesions, global
statistics must not be enough (issue 14).

The set is written by ``pipelines.datasets.synthetic_ct`` as DICOM (half normal, half pneumonia),
ingested by the real CT ingest (``pipelines.datasets.ingest``: slices ordered by position, HU from
each file's RescaleSlope / RescaleIntercept, resampled to ``--shape``, split by patient), and then
measured three ways on the ingested volumes, in HU, as a model sees them:

- one global feature, one threshold: for each feature (mean lung HU, fraction of lung above -500
  HU, fractions of lung in the ground-glass and consolidation bands, lung HU standard deviation and
  95th percentile, lung volume fraction, mean and standard deviation of body HU), the best
  threshold and direction over all patients (fitted on the very patients it is scored on, so it
  is optimistic for the cheater). Goal: every feature at most 0.70;
- logistic regression (scikit-learn, standardised, C chosen by inner cross-validation) on a
  64-bin HU histogram of the body (-1000 to +200 HU, as fractions): 5-fold stratified
  cross-validated accuracy over all patients. Goal: at most 0.80;
- the 3-D CNN template (``ct_cnn3d``, 8, 16 and 32 channels, as the market's seeded model
  ``chest_ct_cnn3d`` trains it: 30 epochs, batch 8, Adam 5e-3, cosine) trained by ``pipelines.training.engine.fit`` on the train split, on the CPU, best
  validation checkpoint measured on the test split. Goal: at least 0.90. Printed beside it, on the
  same test patients in the same run: the train split's majority class, and the histogram
  regression fitted on the train split alone (``split_baseline``).

An extra measure, printed after the CNN and **not** the ``ct_cnn3d`` template nor a goal of it: a
mask-supervised U-Net detector turned into a patient label (``mask_detector``). The same written
patients are zipped again with each series' ``lesion_mask.nii.gz`` and a ``classes.json`` (as the
``chest_ct_lesions`` sample is), ingested as a segmentation set with the same options (checked: the
same volumes in the same rows and splits as the classification ingest), the ``unet3d`` template is
trained on the masks of the train split (its recommended settings: Adam 1e-3, cosine, Dice + cross-entropy, flips;
batch 2, ``--detector-epochs``, best validation Dice kept), and a patient is called pneumonia when at
least ``t`` lesion voxels are predicted, ``t`` chosen on the validation split; test accuracy on the
CNN's test patients, with the errors per class and the pooled lesion Dice. It needs lesion masks,
which the classification template never sees.

Then the **lesion-pretrained 3-D CNN template** (``lesion_cnn``): ``ct_lesion_cnn3d`` (unet3d's network
with a presence head, the maximum over voxels of the lesion log-probability into a linear layer) in
its second run, a classification run on the classification ingest's train split (labels only)
started from the detector's mask-trained unet3d weights, every layer but the head frozen, the
template's recommended settings (Adam 0.01, batch 8, 10 epochs), best validation accuracy's weights
measured on the same test patients. It counts for the CNN goal beside ``ct_cnn3d``, and the output
says which template reached what and that it learnt from the train split's masks.

``--quick`` is smaller (80 patients, fewer epochs) and does not hold the goals.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.datasets.cache import load_small, open_inputs  # noqa: E402
from pipelines.market.seeded import (  # noqa: E402
    CT_PATIENTS,
    CT_SET_SEED,
    CT_SIZE,
    CT_SLICES,
    chest_ct_zip,
    seed_model,
    train_seed_model,
)

BENCH_PATIENTS = 200  # the size; the market's seeded model trains on CT_PATIENTS of the same generator

THRESHOLD_GOAL, HISTOGRAM_GOAL, CNN_GOAL = 0.70, 0.80, 0.90


def lung_and_body(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks a cheater would compute: the body (everything denser than -500 HU with its holes
    filled, slice by slice) and the lungs (what in it is below -400 HU, holes filled again so
    lesions inside count as lung)."""
    from scipy import ndimage

    body = np.stack([ndimage.binary_fill_holes(plane > -500) for plane in volume])
    body = np.stack([ndimage.binary_opening(plane, iterations=1) for plane in body])
    lung = np.stack([ndimage.binary_fill_holes(plane) for plane in (body & (volume < -400))])
    return lung & body, body


def global_features(volume: np.ndarray) -> dict[str, float]:
    lung, body = lung_and_body(volume)
    inside = volume[lung] if lung.any() else np.array([-1000.0])
    tissue = volume[body] if body.any() else np.array([0.0])
    return {
        "mean lung HU": float(inside.mean()),
        "lung fraction above -500 HU": float((inside > -500).mean()),
        "lung fraction in -700..-300 HU (ground glass)": float(((inside > -700) & (inside < -300)).mean()),
        "lung fraction in -100..+50 HU (consolidation)": float(((inside > -100) & (inside < 50)).mean()),
        "lung HU standard deviation": float(inside.std()),
        "lung HU 95th percentile": float(np.percentile(inside, 95)),
        "lung volume / body volume": float(lung.sum() / max(body.sum(), 1)),
        "mean body HU": float(tissue.mean()),
        "body HU standard deviation": float(tissue.std()),
    }


def histogram(volume: np.ndarray) -> np.ndarray:
    _, body = lung_and_body(volume)
    counts = np.histogram(volume[body], bins=64, range=(-1000.0, 200.0))[0].astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def best_threshold(values: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Best accuracy of ``value > t`` or ``value < t`` over every threshold, and that threshold.
    A threshold falls between two distinct values: patients with equal values (the consolidation
    fraction is exactly 0 for many) land on the same side, whatever order they were ingested in."""
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_labels = values[order], labels[order]
    positives_below = np.concatenate([[0], np.cumsum(sorted_labels)])
    count = np.arange(len(values) + 1)
    # Split after k patients: predict 1 above -> correct = negatives below + positives above.
    above = (count - positives_below) + (positives_below[-1] - positives_below)
    accuracy = np.maximum(above, len(values) - above) / len(values)
    distinct = np.ones(len(values) + 1, dtype=bool)
    distinct[1:-1] = sorted_values[1:] > sorted_values[:-1]
    k = int(np.argmax(np.where(distinct, accuracy, -1.0)))
    edge = sorted_values[min(k, len(values) - 1)] if k in (0, len(values)) else (
        0.5 * (sorted_values[k - 1] + sorted_values[k]))
    return float(accuracy[k]), float(edge)


def histogram_regression(features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                         {"logisticregression__C": np.logspace(-3, 2, 8).tolist()}, cv=4)
    scores = cross_val_score(model, features, labels, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    return float(scores.mean()), float(scores.std())


def split_baseline(features: np.ndarray, labels: np.ndarray, splits: np.ndarray) -> dict[str, float]:
    """What the CNN is compared with on its own test split: the train split's majority class, and
    the histogram regression (as above) fitted on the train split alone."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pipelines.datasets.cache import SPLIT_CODE

    train, test = splits == SPLIT_CODE["train"], splits == SPLIT_CODE["test"]
    majority = int(labels[train].mean() >= 0.5)
    model = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                         {"logisticregression__C": np.logspace(-3, 2, 8).tolist()}, cv=4)
    model.fit(features[train], labels[train])
    return {"majority": float((labels[test] == majority).mean()),
            "histogram": float((model.predict(features[test]) == labels[test]).mean())}


def lesions_zip(folder: Path) -> Path:
    """The bench's patients as the ``chest_ct_lesions`` sample zips them: each series' DICOM files
    with its ``lesion_mask.nii.gz`` beside, and a ``classes.json`` at the root, which makes the
    ingest read the zip as a segmentation set of the same patients."""
    from pipelines.datasets.samples import LESION_CLASSES
    from pipelines.datasets.synthetic_ct import MASK_NAME

    source = folder / "chest_ct"
    path = folder / "chest_ct_lesions.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("classes.json", json.dumps(LESION_CLASSES))
        for case in sorted({file.parent for file in source.rglob("*.dcm")}):
            for file in sorted([*case.glob("*.dcm"), case / MASK_NAME]):
                zf.write(file, file.relative_to(source).as_posix())
    return path


def count_threshold(counts: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """The smallest ``t`` >= 1 with the best accuracy of "pneumonia when at least ``t`` lesion
    voxels are predicted" on these patients, and that accuracy."""
    candidates = np.unique(np.concatenate([[1], counts[counts >= 1], [counts.max() + 1]]))
    accuracy = np.array([((counts >= t).astype(int) == labels).mean() for t in candidates])
    best = int(np.argmax(accuracy))  # the first of equals: the smallest t
    return int(candidates[best]), float(accuracy[best])


def sized(document: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """``document`` with its ``volume_input`` set to ``shape`` (depth, height, width)."""
    node = next(n for n in document["nodes"] if n["type"] == "volume_input")
    node["params"].update(depth=shape[0], height=shape[1], width=shape[2])
    return document


def lesion_detector(cache: Path, shape: tuple[int, ...], epochs: int, seed: int, checkpoints: Path) -> dict[str, Any]:
    """The mask-supervised detector: the ``unet3d`` template trained by the engine on the
    segmentation ingest's train split with its recommended settings (all of its ``config``: Adam 1e-3
    since 7 Dec 2026 08:40 UTC, 3e-3 before; cosine decay, Dice + cross-entropy, left-right and
    slice-order flips; batch 2, as
    ``bench/seg3d_bench.py`` trains it), the best validation Dice's
    weights kept; each validation and test patient's predicted lesion voxels are counted, and a
    patient is called pneumonia when the count is at least ``t``, ``t`` chosen on validation
    (``count_threshold``). A patient's true label is whether its resampled mask has a lesion voxel."""
    from builder.graph import compile_graph
    from builder.graph.templates import get_template, template_config
    from pipelines.datasets.loader import CachedDataset
    from pipelines.training.config import parse_config
    from pipelines.training.data import cached_loaders
    from pipelines.training.engine import fit

    document = sized(get_template("unet3d"), shape)
    config = parse_config({**template_config("unet3d"), "task": "segmentation", "epochs": epochs, "batch_size": 2,
                           "seed": seed, "device": {"kind": "cpu"}, "stats_every": 1000})
    augmentation = config.augmentation.model_dump() if config.augmentation is not None else None
    data = cached_loaders(cache, batch_size=config.batch_size, seed=seed, classes=2, augmentation=augmentation,
                          eval_batch_size=4)
    torch.manual_seed(seed)
    model = compile_graph(document)
    fitted = fit(model, data, config, device=torch.device("cpu"), checkpoint_dir=checkpoints)
    model.eval()  # the test step left the best validation epoch's weights in it
    found, lesion = {}, {}
    for split in ("val", "test"):
        dataset = CachedDataset(cache, split)
        with torch.no_grad():
            pairs = [(int((model(x[None]).argmax(1) == 1).sum()), int((y == 1).sum()))
                     for x, y in (dataset[i] for i in range(len(dataset)))]
        found[split] = np.array([p for p, _ in pairs])
        lesion[split] = np.array([t for _, t in pairs])
    labels = {split: (lesion[split] > 0).astype(int) for split in found}
    t, val_accuracy = count_threshold(found["val"], labels["val"])
    called = (found["test"] >= t).astype(int)
    test = labels["test"]
    return {
        "threshold": t, "val_accuracy": val_accuracy, "test_accuracy": float((called == test).mean()),
        "test_any_voxel_accuracy": float(((found["test"] >= 1).astype(int) == test).mean()),
        "false_positives": int(((called == 1) & (test == 0)).sum()), "normals": int((test == 0).sum()),
        "false_negatives": int(((called == 0) & (test == 1)).sum()), "pneumonias": int((test == 1).sum()),
        "test_lesion_dice": (fitted.test_metrics.get("dice_per_class") or [None, None])[1],
        "best_epoch": fitted.best.get("epoch"), "epochs": fitted.epochs_run, "augmentation": augmentation,
        "counts": {split: found[split].tolist() for split in found},
        "lesion_voxels": {split: lesion[split].tolist() for split in lesion},
        "rows": {split: CachedDataset(cache, split).indices.tolist() for split in found},
        "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def lesion_cnn(cache: Path, shape: tuple[int, ...], weights: dict[str, torch.Tensor], seed: int,
               checkpoints: Path) -> dict[str, Any]:
    """The ``ct_lesion_cnn3d`` template as a user trains it in its second run: a classification run
    on the classification ingest's train split (its labels only), started from the mask-trained
    unet3d's weights (``weights``, which load into every layer but the head) with every layer but the
    head frozen, the template's recommended settings (Adam 0.01, batch 8, 10 epochs), the best
    validation accuracy's weights measured on the test split by the engine."""
    from builder.graph import compile_graph
    from builder.graph.templates import get_template, template_config
    from pipelines.training.config import parse_config
    from pipelines.training.data import cached_loaders
    from pipelines.training.engine import fit
    from pipelines.training.finetune import all_but

    document = sized(get_template("ct_lesion_cnn3d"), shape)
    model = compile_graph(document)
    frozen = all_but(model, "logits")
    config = parse_config({**template_config("ct_lesion_cnn3d"), "task": "classification", "seed": seed,
                           "freeze": frozen, "device": {"kind": "cpu"}, "stats_every": 1000})
    data = cached_loaders(cache, batch_size=config.batch_size, seed=seed, classes=2, eval_batch_size=8)
    fitted = fit(model, data, config, device=torch.device("cpu"), checkpoint_dir=checkpoints, init_weights=weights)
    confusion = fitted.test_metrics.get("confusion_matrix") or [[0, 0], [0, 0]]
    return {"test_accuracy": float(fitted.test_metrics.get("accuracy", float("nan"))),
            "val_accuracy": float(fitted.best.get("accuracy", float("nan"))), "best_epoch": fitted.best.get("epoch"),
            "epochs": fitted.epochs_run, "config": config, "frozen": len(frozen),
            "false_positives": int(confusion[0][1]), "normals": int(sum(confusion[0])),
            "false_negatives": int(confusion[1][0]), "pneumonias": int(sum(confusion[1]))}


def mask_detector(folder: Path, cache: Path, volumes: np.ndarray, splits: np.ndarray, spec: Any,
                  shape: tuple[int, ...], epochs: int) -> dict[str, Any]:
    """The extra measure on the bench's own patients: their series zipped with the lesion masks
    (``lesions_zip``), ingested as a segmentation set with the classification ingest's options,
    checked to hold the same volumes in the same rows and splits, and ``lesion_detector``."""
    from pipelines.datasets.cache import SPLIT_CODE
    from pipelines.datasets.ingest import ingest
    from pipelines.datasets.samples import SAMPLES

    sample_options = dict(SAMPLES[spec.sample]["options"])  # type: ignore[call-overload]
    options = {**sample_options, **spec.ingest_options}  # as train_seed_model ingests
    result = ingest("ct_dicom", lesions_zip(folder), "chest_ct_lesions.zip", folder / "lesions", options)
    if result.task != "segmentation":
        raise RuntimeError(f"the lesion zip was ingested as {result.task}, not segmentation")
    seg_cache = folder / "lesions" / "cache"
    seg_splits = load_small(seg_cache, "splits")
    seg_volumes = open_inputs(seg_cache)
    same_rows = len(seg_splits) == len(splits) and all(
        np.array_equal(np.asarray(seg_volumes[row], dtype=np.float32)[0], volumes[row]) for row in range(len(splits)))
    test = SPLIT_CODE["test"]
    if same_rows and (seg_splits == splits).all():
        same = f"the CNN's {int((splits == test).sum())} test patients: same volumes in the same rows and splits"
    else:
        shared = sum(any(np.array_equal(np.asarray(seg_volumes[s], dtype=np.float32)[0], volumes[c])
                         for s in np.flatnonzero(seg_splits == test)) for c in np.flatnonzero(splits == test))
        same = f"NOT the CNN's test split: {shared} of its {int((splits == test).sum())} test patients are in it"
    return {**lesion_detector(seg_cache, shape, epochs, spec.config.get("seed", 0), folder / "lesions-checkpoints"),
            "same_test": same}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=BENCH_PATIENTS)
    parser.add_argument("--size", type=int, default=CT_SIZE, help="rows and columns written")
    parser.add_argument("--slices", type=int, default=CT_SLICES, help="slices of a 2.5 mm scan (others scale)")
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 64, 64), help="ingested volume shape")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the 3-D CNN (the seeded model trains 10)")
    parser.add_argument("--seed", type=int, default=CT_SET_SEED)
    parser.add_argument("--detector-epochs", type=int, default=40,
                        help="epochs of the extra measure, the mask-supervised unet3d detector (0: skip it)")
    parser.add_argument("--quick", action="store_true", help="80 patients, 8 epochs (the detector at most 3); goals not held")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.epochs, args.detector_epochs = 80, 8, min(args.detector_epochs, 3)
    torch.set_num_threads(1)
    started = time.perf_counter()
    spec = seed_model("chest_ct_cnn3d")
    custom = (args.patients, args.size, args.slices, args.seed, tuple(args.shape)) != (
        CT_PATIENTS, CT_SIZE, CT_SLICES, CT_SET_SEED, tuple(spec.ingest_options["volume_shape"]))
    if custom or args.epochs:  # else: exactly the market's seeded model and its set
        spec = dataclasses.replace(
            spec, config={**spec.config, **({"epochs": args.epochs} if args.epochs else {})},
            ingest_options={**spec.ingest_options, "volume_shape": list(args.shape)},
            write=lambda folder: chest_ct_zip(folder, args.patients, args.slices, args.size, args.seed))
    print(f"ct difficulty: {args.patients} synthetic patients (seed {args.seed}), {args.size}x{args.size} "
          f"pixels, ~{args.slices} slices, ingested to {'x'.join(map(str, args.shape))}")
    with tempfile.TemporaryDirectory(prefix="ct-difficulty-") as folder:
        trained = train_seed_model(spec, Path(folder))
        cache = Path(folder) / "work" / "cache"
        volumes = np.asarray(open_inputs(cache), dtype=np.float32)[:, 0]
        labels = load_small(cache, "targets").astype(int)
        splits = load_small(cache, "splits")
        detector = (mask_detector(Path(folder), cache, volumes, splits, spec, tuple(args.shape), args.detector_epochs)
                    if args.detector_epochs else None)
        pretrained = (lesion_cnn(cache, tuple(args.shape), detector.pop("weights"), spec.config.get("seed", 0),
                                 Path(folder) / "lesion-cnn-checkpoints") if detector is not None else None)
    classes = trained.classes
    labels = (labels == classes.index("pneumonia")).astype(int)
    features = [global_features(v) for v in volumes]
    print(f"\none global feature, best threshold and direction fitted on all {len(labels)} patients "
          f"(goal: each <= {THRESHOLD_GOAL:.2f})")
    worst = 0.0
    for name in features[0]:
        values = np.array([f[name] for f in features])
        accuracy, edge = best_threshold(values, labels)
        worst = max(worst, accuracy)
        normal, sick = values[labels == 0], values[labels == 1]
        print(f"  {name:<48} {accuracy:.3f}  (at {edge:.4g}; normal {normal.mean():.4g} +- {normal.std():.3g}, "
              f"pneumonia {sick.mean():.4g} +- {sick.std():.3g})")
    hist = np.stack([histogram(v) for v in volumes])
    mean, spread = histogram_regression(hist, labels)
    print(f"\nlogistic regression on a 64-bin body HU histogram (-1000..+200 HU), 5-fold cross-validated "
          f"over {len(labels)} patients: {mean:.3f} +- {spread:.3f} (goal: <= {HISTOGRAM_GOAL:.2f})")
    test = trained.metrics["test"]
    counts = trained.dataset["samples"]
    baseline = split_baseline(hist, labels, splits)
    print(f"\n3-D CNN ({spec.title}, {trained.config['epochs']} epochs, batch {trained.config['batch_size']}, "
          f"trained on {counts.get('train')} patients, best of {counts.get('val')} validation patients' epochs), "
          f"test accuracy on {counts.get('test')} patients: {test.get('accuracy', float('nan')):.3f} "
          f"(goal: >= {CNN_GOAL:.2f}; validation {trained.metrics['best'].get('accuracy', float('nan')):.3f})")
    print(f"  baselines on the same {counts.get('test')} test patients: the majority class of the train split "
          f"{baseline['majority']:.3f}; logistic regression on the 64-bin histogram fitted on the train split "
          f"{baseline['histogram']:.3f}")
    if detector is not None:
        d = detector
        print(f"\nextra measure, NOT the ct_cnn3d template: mask-supervised U-Net detector -> patient label (the "
              f"unet3d segmentation template trained on the lesion masks with its recommended settings, {d['epochs']} "
              f"epochs, batch 2, best validation Dice "
              f"at epoch {d['best_epoch'] + 1}; pneumonia when >= {d['threshold']} lesion voxels are predicted, t "
              f"chosen on the {len(d['counts']['val'])} validation patients: {d['val_accuracy']:.3f}), test accuracy "
              f"on {d['normals'] + d['pneumonias']} patients: {d['test_accuracy']:.3f} ({d['same_test']})")
        dice = d["test_lesion_dice"]
        print(f"  errors: {d['false_positives']} of {d['normals']} normal patients called pneumonia, "
              f"{d['false_negatives']} of {d['pneumonias']} pneumonia patients missed; at t = 1 (any lesion voxel) "
              f"{d['test_any_voxel_accuracy']:.3f}; pooled lesion Dice on the test split "
              f"{'-' if dice is None else f'{dice:.3f}'}; majority class of the train split {baseline['majority']:.3f}")
    if pretrained is not None:
        p = pretrained
        print(f"\n3-D CNN template ct_lesion_cnn3d, lesion-pretrained (its second run: a classification run on the "
              f"labels of the same {counts.get('train')} train patients, started from the mask-trained unet3d "
              f"above, {p['frozen']} layers frozen, the head trained: Adam {p['config'].optimizer.lr:g}, batch "
              f"{p['config'].batch_size}, {p['epochs']} epochs, best validation accuracy {p['val_accuracy']:.3f} at "
              f"epoch {p['best_epoch'] + 1}), test accuracy on {p['normals'] + p['pneumonias']} patients: "
              f"{p['test_accuracy']:.3f} (goal: >= {CNN_GOAL:.2f})")
        print(f"  errors: {p['false_positives']} of {p['normals']} normal patients called pneumonia, "
              f"{p['false_negatives']} of {p['pneumonias']} pneumonia patients missed; baselines on the same test "
              f"patients: majority class {baseline['majority']:.3f}, histogram regression {baseline['histogram']:.3f}; "
              f"it learnt from the train split's lesion masks, which ct_cnn3d never sees")
    label_only = test.get("accuracy", 0.0)
    best_cnn = max(label_only, pretrained["test_accuracy"] if pretrained is not None else 0.0)
    held = worst <= THRESHOLD_GOAL and mean <= HISTOGRAM_GOAL and best_cnn >= CNN_GOAL
    shown = "" if pretrained is None else f", ct_lesion_cnn3d lesion-pretrained {pretrained['test_accuracy']:.3f}"
    print(f"\ngoals {'held' if held else 'NOT held'} (3-D CNN: ct_cnn3d from labels only {label_only:.3f}{shown}); "
          f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
