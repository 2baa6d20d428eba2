"""Benchmark of 3-D lesion segmentation on the synthetic chest CT (issue 14): the template the
product proposes for CT volumes with masks (``unet3d``) must reach a lesion Dice of at least 0.70
on held-out patients.

How it is measured:

- patients are drawn and rendered by ``pipelines.datasets.synthetic_ct_anatomy`` (the same anatomy,
  confounders, scanners and 1-4 lesions of 5-40 mm as the synthetic DICOM set, and its per-patient
  lesion masks), three in four with pneumonia (lesions), one in four normal (atelectasis, vessels
  and plates to mistake for lesions, and an empty mask);
- each is written as ``images/caseNNN.nii.gz`` (HU) and ``masks/caseNNN.nii.gz`` (0 background,
  1 lesion) with the scanner's spacing in the affine, zipped, and ingested by the real ``ct_nifti``
  ingest (``pipelines.datasets.nifti_masks``: the image resampled trilinear, the mask nearest, to
  ``--shape``; lung window; split by patient, 70/15/15, with the ingest's split seed: ``--split-seeds``,
  default 0 1 2, one training per seed: the goal must hold on each);
- the template (``--template``; default: what "start from data" proposes for this data,
  ``builder.graph.propose.closest_template``, i.e. ``unet3d``), input resized to ``--shape``, is trained by
  ``pipelines.training.engine.fit`` on the train split with the template's recommended settings (all of
  its ``config``, augmentation included; ``--lr``, ``--epochs`` and ``--augmentation`` replace a part of
  them for an experiment), keeping the checkpoint with the best validation Dice, on the CPU; every split
  starts from the same weights (torch seeded ``--seed``);
- the figure is the lesion class's Dice on the test split, voxels pooled over all test patients
  (``pipelines.training.metrics.segmentation``, what the run page shows), on the resampled grid.
  The mean of per-patient lesion Dice over the test patients with lesions is printed beside it,
  and a simple baseline measured in the same run (``density_baseline``: the lung voxels in the HU
  band that scores best on the train split), each printed per split seed. Patients are named by
  pseudonyms salted anew at every ingest, but the split orders them by where their volume lies in
  the upload (``ingest._split_keys``), so a split seed puts the same patients in test every run.

``--quick`` is smaller (fewer patients and epochs) and does not hold the goal.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
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

from builder.graph import compile_graph  # noqa: E402
from builder.graph.propose import DataSummary, closest_template  # noqa: E402
from builder.graph.templates import get_template, template_config  # noqa: E402
from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.synthetic_ct_anatomy import draw_patient, render  # noqa: E402
from pipelines.training.config import parse_config  # noqa: E402
from pipelines.training.data import cached_loaders  # noqa: E402
from pipelines.training.engine import fit  # noqa: E402

DICE_GOAL = 0.70
# What "start from data" sees for this bench's dataset: CT volumes with two-class masks.
VOLUME_SEGMENTATION = DataSummary(modality="ct", shape=(1, 32, 64, 64), task="segmentation", classes=2)


def write_cases(archive: Path, patients: int, size: int, slices: int, seed: int) -> dict[str, int]:
    """The zip of ``patients`` volumes and masks; returns how many have lesions and voxels they cover."""
    import nibabel

    with_lesions, lesion_voxels = 0, 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for number in range(patients):
            rng = np.random.default_rng([seed, number])
            patient = draw_patient(rng, number % 4 != 3, size, slices)
            hu, mask = render(patient)
            with_lesions += int(mask.any())
            lesion_voxels += int(mask.sum())
            affine = np.diag([patient.pixel_mm, patient.pixel_mm, patient.thickness_mm, 1.0])
            for folder, data, dtype in (("images", hu, np.int16), ("masks", mask, np.uint8)):
                image = nibabel.Nifti1Image(np.ascontiguousarray(data.transpose(2, 1, 0)).round().astype(dtype), affine)
                zf.writestr(f"{folder}/case{number:03d}.nii.gz", gzip.compress(image.to_bytes(), compresslevel=1))
    return {"with_lesions": with_lesions, "lesion_voxels": lesion_voxels}


def template_graph(template: str, shape: tuple[int, int, int]) -> dict:
    """The ``template``'s graph with its ``volume_input`` set to ``shape`` (depth, height, width)."""
    doc = get_template(template)
    node = next(n for n in doc["nodes"] if n["type"] == "volume_input")
    node["params"].update(depth=shape[0], height=shape[1], width=shape[2])
    return doc


def density_baseline(cache: Path) -> dict[str, object]:
    """The simple baseline beside the U-Net: lesion = every voxel of a cheater's lung mask (as
    ``bench/ct_difficulty.py`` draws it: lesions inside the lung count as lung) whose HU lies in a
    band; the band (low, high) is the one with the best pooled Dice on the train split, and its
    pooled lesion Dice on the test split is the figure."""
    from pipelines.datasets.cache import SPLIT_CODE, load_small, open_inputs, open_masks

    sys.path.insert(0, str(ROOT / "bench"))
    from ct_difficulty import lung_and_body

    volumes, masks, splits = open_inputs(cache), open_masks(cache), load_small(cache, "splits")
    lows, highs = np.arange(-800.0, -249.0, 50.0), np.arange(-250.0, 251.0, 50.0)

    def counts(split: str) -> np.ndarray:
        """Per band: overlap, predicted and true lesion voxels, pooled over the split."""
        out = np.zeros((len(lows), len(highs), 3))
        for row in np.flatnonzero(splits == SPLIT_CODE[split]):
            hu, truth = np.asarray(volumes[row], dtype=np.float32)[0], np.asarray(masks[row]) == 1
            lung = lung_and_body(hu)[0]
            inside, lesion = hu[lung], truth[lung]
            for i, low in enumerate(lows):
                for j, high in enumerate(highs):
                    predicted = (inside > low) & (inside < high)
                    out[i, j] += ((predicted & lesion).sum(), predicted.sum(), truth.sum())
        return out

    def dice(c: np.ndarray) -> np.ndarray:
        return 2 * c[..., 0] / np.maximum(c[..., 1] + c[..., 2], 1)

    train = dice(counts("train"))
    i, j = np.unravel_index(int(np.argmax(train)), train.shape)
    return {"band_hu": [float(lows[i]), float(highs[j])], "train_lesion_dice": round(float(train[i, j]), 4),
            "test_lesion_dice": round(float(dice(counts("test"))[i, j]), 4)}


def per_patient_dice(model: torch.nn.Module, data: object) -> list[float]:
    """Lesion Dice of each test volume that has lesions (best checkpoint's weights are loaded)."""
    scores = []
    model.eval()
    with torch.no_grad():
        for x, y in data.test:  # type: ignore[attr-defined]
            predicted = model(x).argmax(1)
            for p, t in zip(predicted, y, strict=True):
                if (t == 1).any():
                    overlap = ((p == 1) & (t == 1)).sum().item()
                    scores.append(2 * overlap / ((p == 1).sum().item() + (t == 1).sum().item()))
    return scores


def run_split(folder: Path, args: argparse.Namespace, split_seed: int) -> dict[str, Any]:
    """Ingest the written cases with the ingest's split seed ``split_seed``, train a freshly
    initialised ``args.template`` (torch seeded ``args.seed``) on that split and score it on its test split."""
    started = time.perf_counter()
    work = folder / f"work-split{split_seed}"
    result = ingest("ct_nifti", folder / "cases.zip", "cases.zip", work,
                    {"volume_shape": args.shape, "val_fraction": 0.15, "test_fraction": 0.15, "seed": split_seed})
    assert result.task == "segmentation" and not result.skipped, result.skipped[:3]
    splits = {s: sum(1 for x in result.samples if x["split"] == s) for s in ("train", "val", "test")}
    settings = template_config(args.template)
    if args.lr is not None:
        settings["optimizer"] = {**settings.get("optimizer", {}), "lr": args.lr}
    if args.augmentation is not None:
        settings["augmentation"] = json.loads(args.augmentation) or None
    config = parse_config({**settings, "task": "segmentation", "epochs": args.epochs or settings.get("epochs", 40),
                           "batch_size": args.batch_size, "seed": args.seed})
    augmentation = config.augmentation.model_dump() if config.augmentation is not None else None  # as a run does
    data = cached_loaders(work / "cache", batch_size=config.batch_size, seed=args.seed, classes=2,
                          augmentation=augmentation, eval_batch_size=4)
    torch.manual_seed(args.seed)
    model = compile_graph(template_graph(args.template, tuple(args.shape)))
    ingested = time.perf_counter()
    fitted = fit(model, data, config, device=torch.device("cpu"), checkpoint_dir=work / "checkpoints")
    trained = time.perf_counter()
    patients = per_patient_dice(model, data)
    baseline = density_baseline(work / "cache")
    test = fitted.test_metrics
    lesion = test["dice_per_class"][1] if test.get("dice_per_class") else None
    return {
        "split_seed": split_seed, "splits": splits,
        "test_patients": [x["meta"]["mask"] for x in result.samples if x["split"] == "test"],
        "lesion_voxel_share": result.stats.get("pixel_share", {}).get("1"),
        "epochs_run": fitted.epochs_run, "best_epoch": fitted.best.get("epoch"),
        "config": {"optimizer": config.optimizer.model_dump(), "schedule": config.schedule.name, "loss": config.loss,
                   "batch_size": config.batch_size, "augmentation": augmentation},
        "test": {"lesion_dice": lesion, "lesion_iou": test["iou_per_class"][1] if lesion is not None else None,
                 "macro_dice": test.get("dice"), "voxel_accuracy": test.get("pixel_accuracy")},
        "val_dice_by_epoch": [round(h["val"].get("dice", 0.0), 4) for h in fitted.history],
        "baseline_lung_hu_band": baseline,
        "per_patient_lesion_dice_mean": round(float(np.mean(patients)), 4) if patients else None,
        "per_patient_lesion_dice": [round(s, 3) for s in patients],
        "seconds": {"ingest": round(ingested - started, 1), "train_and_test": round(trained - ingested, 1)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--patients", type=int, default=144, help="rendered and ingested (96 until 7 Dec 2026: too few "
                                                                  "for the goal on every split)")
    parser.add_argument("--size", type=int, default=64, help="matrix the patients are rendered at")
    parser.add_argument("--slices", type=int, default=40, help="slices a 2.5 mm scan gets (thinner scans more)")
    parser.add_argument("--shape", type=int, nargs=3, default=[32, 64, 64], help="depth height width after resampling")
    parser.add_argument("--template", default=closest_template(VOLUME_SEGMENTATION)[0],
                        help="the segmentation template trained; default: the one the product proposes for "
                             "CT volumes with masks (builder.graph.propose.closest_template)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the template's (else 40)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=None, help="Adam's rate; default: the template's")
    parser.add_argument("--augmentation", default=None, metavar="JSON",
                        help="replaces the template's recommended augmentation (e.g. '{\"flip_horizontal\": true}'; "
                             "'{}': none); default: the template's")
    parser.add_argument("--seed", type=int, default=0, help="patients drawn, weights and training")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED",
                        help="the ingest's split seeds (its `seed` option), one training per seed, all from the same "
                             "initial weights; the goal must hold on every one; default 0 1 2")
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1), help="torch intra-op threads")
    parser.add_argument("--quick", action="store_true", help="16 patients, 4 epochs: a smoke run, no goal")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.epochs = 16, 4
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seg3d-bench-") as tmp:
        folder = Path(tmp)
        counts = write_cases(folder / "cases.zip", args.patients, args.size, args.slices, args.seed)
        written = time.perf_counter()
        runs = [run_split(folder, args, split_seed) for split_seed in args.split_seeds]
    report = {
        "bench": "seg3d", "template": args.template, "patients": args.patients, "with_lesions": counts["with_lesions"],
        "render": {"size": args.size, "slices_nominal": args.slices}, "shape": args.shape,
        "seconds": {"write": round(written - started, 1), "total": round(time.perf_counter() - started, 1)},
        "device": "cpu", "threads": args.threads, "goal": {"lesion_dice_at_least": DICE_GOAL}, "runs": runs,
    }
    print(json.dumps(report, indent=1))
    for run in runs:
        lesion, baseline, mean = run["test"]["lesion_dice"], run["baseline_lung_hu_band"], run["per_patient_lesion_dice_mean"]
        if lesion is None:
            print(f"split seed {run['split_seed']}: no lesion Dice: the test split has no lesion voxels")
            continue
        verdict = "" if args.quick else f" -> goal {'met' if lesion >= DICE_GOAL else 'NOT MET'} (>= {DICE_GOAL})"
        print(f"split seed {run['split_seed']}: lesion Dice (test split, pooled voxels) {args.template} {lesion:.3f}{verdict}; "
              f"mean per-patient lesion Dice {mean if mean is None else f'{mean:.3f}'} over "
              f"{len(run['per_patient_lesion_dice'])} test patients with lesions; baseline (lung voxels in the "
              f"HU band {baseline['band_hu']} fitted on train) {baseline['test_lesion_dice']:.3f}")
    if args.quick:
        print("quick run: the goal is not checked")
    else:
        scored = [run["test"]["lesion_dice"] for run in runs if run["test"]["lesion_dice"] is not None]
        held = bool(scored) and min(scored) >= DICE_GOAL
        print(f"goal (lesion Dice >= {DICE_GOAL} on every split seed: {' '.join(str(s) for s in args.split_seeds)}): "
              f"{'held' if held else 'NOT held'}; worst {min(scored, default=float('nan')):.3f}")
    return 0  # figures, reported as measured: `make bench` goes on to print the others


if __name__ == "__main__":
    sys.exit(main())
