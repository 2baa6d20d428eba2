"""Regression with and without target scaling, beside scikit-learn's Ridge on the same split.

Two tables go through the real ingest (``pipelines.datasets.ingest``: features standardised, a
seeded 80/10/10 split, the target's statistics learnt on the training split) and the real engine
(``pipelines.training.engine.fit``: 10 epochs, MSE, best checkpoint by validation RMSE) with the
``tabular_mlp`` template (wide and deep, its head cut to one output):

- diabetes: scikit-learn's diabetes table as shipped (442 rows, 10 features, target 25-346);
- price: ``make_regression`` (2,000 rows, 8 features, noise 10) shifted and scaled to a target of
  mean 2e5 and std 5e4, as a price table looks.

For each table, on each of three seeded splits, it trains the MLP with model seeds 0-2 three ways:
``target_scaling`` ``standardize`` with the template's recommended run settings
(``template_config("tabular_mlp")``: batch 16, Adam at 1e-2, one-cycle), ``standardize`` with the
bare run-config defaults (batch 64, Adam at 1e-3, constant), and ``none`` with the template's
settings; and it fits ``Ridge(alpha=1.0)`` on the same encoded training rows, scored on the same
test rows: the fair, simple baseline. It prints the test R² of every run, their mean and worst,
the mean gap to Ridge on the same splits, and the mean validation R² (of the best checkpoints:
what settings are chosen on; the test split is only reported). Goal: with scaling, the MLP's mean
test R² is at least Ridge's on both tables, and its worst run is close to its mean (no luck
involved). ``--quick``: one split, two model seeds.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.graph import compile_graph  # noqa: E402
from builder.graph.templates import get_template, template_config  # noqa: E402
from pipelines.datasets.cache import SPLIT_CODE, load_small, open_inputs  # noqa: E402
from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.targets import resolve  # noqa: E402
from pipelines.training.config import parse_config  # noqa: E402
from pipelines.training.data import cached_loaders  # noqa: E402
from pipelines.training.engine import fit  # noqa: E402

CPU = torch.device("cpu")


def diabetes_table() -> tuple[list[str], np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    return list(data.feature_names), np.asarray(data.data), np.asarray(data.target, dtype=np.float64)


def price_table(rows: int = 2000, features: int = 8) -> tuple[list[str], np.ndarray, np.ndarray]:
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=rows, n_features=features, n_informative=features, noise=10.0, random_state=0)
    price = 2e5 + 5e4 * (y - y.mean()) / y.std()
    return [f"f{i}" for i in range(features)], x, price


def write_csv(path: Path, names: list[str], x: np.ndarray, y: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*names, "target"])
        for features, target in zip(x, y, strict=True):
            writer.writerow([*(f"{v:.8g}" for v in features), f"{target:.8g}"])


def ingest_table(folder: Path, names: list[str], x: np.ndarray, y: np.ndarray, split_seed: int) -> tuple[Path, dict]:
    source = folder / "table.csv"
    write_csv(source, names, x, y)
    result = ingest("table", source, "table.csv", folder, {"target_column": "target", "task": "regression",
                                                            "seed": split_seed})
    return folder / "cache", result.recipe


def ridge_r2(cache: Path) -> float:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    inputs, targets, splits = np.asarray(open_inputs(cache)), load_small(cache, "targets"), load_small(cache, "splits")
    train, test = splits == SPLIT_CODE["train"], splits == SPLIT_CODE["test"]
    model = Ridge(alpha=1.0).fit(inputs[train], targets[train])
    return float(r2_score(targets[test], model.predict(inputs[test])))


# (label, target_scaling, run settings): the template's recommended settings first.
VARIANTS: tuple[tuple[str, str, dict], ...] = (
    ("standardize, template settings", "standardize", template_config("tabular_mlp")),
    ("standardize, bare defaults", "standardize", {}),
    ("none, template settings", "none", template_config("tabular_mlp")),
)


def mlp_r2(cache: Path, recipe: dict, scaling: str, settings: dict, seed: int) -> tuple[float, float]:
    """Test R² and the best checkpoint's validation R² of one run."""
    document = get_template("tabular_mlp")
    for node in document["nodes"]:
        if node["id"] == "features":
            node["params"]["features"] = len(recipe["features"])
        if node["id"] == "logits":
            node["params"]["out_features"] = 1
    config = parse_config({**settings, "task": "regression", "seed": seed, "target_scaling": scaling})
    target = resolve(scaling, recipe["target_scaling"])
    data = cached_loaders(cache, batch_size=config.batch_size, seed=seed, classes=0, target=target)
    with tempfile.TemporaryDirectory() as checkpoints:
        result = fit(compile_graph(document), data, config, device=CPU, checkpoint_dir=Path(checkpoints))
    return float(result.test_metrics["r2"]), float(result.best["r2"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one split and two model seeds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits, seeds = (range(1), range(2)) if args.quick else (range(3), range(3))
    print("regression: test R² of the tabular_mlp template (wide and deep; 10 epochs, MSE; template settings "
          f"{template_config('tabular_mlp')}) on split seeds {list(splits)} x model seeds {list(seeds)}, "
          "beside Ridge(alpha=1) on the same splits")
    for name, table in (("diabetes", diabetes_table), ("price", price_table)):
        names, x, y = table()
        ridges: list[float] = []
        scores: dict[str, list[float]] = {label: [] for label, _, _ in VARIANTS}
        vals: dict[str, list[float]] = {label: [] for label, _, _ in VARIANTS}
        gaps: dict[str, list[float]] = {label: [] for label, _, _ in VARIANTS}
        for split in splits:
            with tempfile.TemporaryDirectory() as tmp:
                cache, recipe = ingest_table(Path(tmp), names, x, y, split)
                ridge = ridge_r2(cache)
                ridges.append(ridge)
                for label, scaling, settings in VARIANTS:
                    runs = [mlp_r2(cache, recipe, scaling, settings, seed) for seed in seeds]
                    scores[label] += [test for test, _ in runs]
                    vals[label] += [val for _, val in runs]
                    gaps[label].append(statistics.fmean(test for test, _ in runs) - ridge)
        print(f"{name}: {len(y)} rows, target mean {y.mean():.4g}, std {y.std():.4g}; "
              f"Ridge R² per split [{', '.join(f'{r:.4f}' for r in ridges)}], mean {statistics.fmean(ridges):.4f}")
        for label, found in scores.items():
            print(f"  MLP {label:<31} R² mean {statistics.fmean(found):9.4f}  "
                  f"worst {min(found):9.4f}  best {max(found):9.4f}  "
                  f"mean - Ridge (same splits) {statistics.fmean(gaps[label]):+.4f}  "
                  f"val R² mean {statistics.fmean(vals[label]):.4f}  [{', '.join(f'{s:.4f}' for s in found)}]")

if __name__ == "__main__":
    main()
