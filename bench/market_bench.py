"""Benchmark of the market's promise: a pretrained model fine-tuned on a few samples of a new task
against the same architecture trained from scratch on the same samples with the same budget.

LeNet-5 (the template) is pretrained with the engine on digits of the digits sample (train split),
then trained on a few samples of a new task three ways, each with ``pipelines.training.engine.fit``
and the same epochs, batches and samples:

- scratch: every weight initialised afresh, all of them trained;
- fine-tuned: the pretrained weights loaded by the engine's fine-tuning path (``init_weights``
  with the head dropped, so it starts afresh for the new classes) and the convolutions frozen;
- frozen random (the baseline that tells whether the pretrained weights do anything): the same
  frozen convolutions and trained dense layers, with no pretrained weights loaded.

Two experiments:

- digit mod 5: pretrained on all ten digits; the new task has five new classes, each two digits
  ({0, 5}, {1, 6}, ...), so a class looks like two unrelated shapes;
- digits 5-9: pretrained on the digits 0-4; the new task is the digits 5-9 relabelled 0-4.

Accuracy is measured on the validation and test splits together (never trained on), as the mean
over several draws of the few samples. Printed as figures and differences in points; nothing is
timed. ``--quick`` uses fewer draws and sizes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.graph import compile_graph  # noqa: E402
from builder.graph.templates import get_template  # noqa: E402
from pipelines.datasets.ingest import ingest  # noqa: E402
from pipelines.datasets.loader import CachedDataset  # noqa: E402
from pipelines.datasets.samples import write_digits  # noqa: E402
from pipelines.training.config import parse_config  # noqa: E402
from pipelines.training.data import resize_to  # noqa: E402
from pipelines.training.engine import TrainData, fit  # noqa: E402
from pipelines.training.finetune import replace_head  # noqa: E402

CPU = torch.device("cpu")
FROZEN = ["c1", "c3"]
EPOCHS = 8
Split = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Experiment:
    name: str
    pretrain_on: range  # digits the model is pretrained on (labels as they are)
    new_digits: range  # digits of the new task
    new_label: Callable[[torch.Tensor], torch.Tensor]  # digit -> new class
    classes: int


EXPERIMENTS = (
    Experiment("digit mod 5, pretrained on all digits", range(0, 10), range(0, 10), lambda y: y % 5, 5),
    Experiment("digits 5-9 relabelled 0-4, pretrained on digits 0-4", range(0, 5), range(5, 10),
               lambda y: y - 5, 5),
)


def digits_split(cache: Path, splits: tuple[str, ...], digits: range) -> Split:
    """Images and digit labels of ``digits`` in the given splits."""
    xs, ys = [], []
    for split in splits:
        dataset = CachedDataset(cache, split)
        x, y = dataset[list(range(len(dataset)))]
        keep = (y >= digits.start) & (y < digits.stop)
        xs.append(x[keep])
        ys.append(y[keep])
    return torch.cat(xs), torch.cat(ys)


def few_per_class(data: Split, per_class: int, seed: int) -> Split:
    """``per_class`` samples of each class, drawn with ``seed``."""
    x, y = data
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for label in y.unique():
        rows = (y == label).nonzero().flatten()
        picks.append(rows[torch.randperm(len(rows), generator=generator)[:per_class]])
    pick = torch.cat(picks)
    return x[pick], y[pick]


def train_data(train: Split, val: Split, classes: int, seed: int, batch: int) -> TrainData:
    x, y = train
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    batches = [(x[order[i:i + batch]], y[order[i:i + batch]]) for i in range(0, len(y), batch)]
    return TrainData(train=batches, val=[val], test=None, classes=classes, steps_per_epoch=len(batches),
                     transform=resize_to((32, 32)))


def config(**values: Any) -> Any:
    return parse_config({"batch_size": 10, "stats_every": 10_000, "device": {"kind": "cpu"}, **values})


def pretrain(cache: Path, digits: range) -> dict[str, torch.Tensor]:
    """LeNet-5 trained on ``digits`` (train split) with the engine; its weights."""
    document, _ = replace_head(get_template("lenet5"), "logits", len(digits))
    model = compile_graph(document)
    train, val = digits_split(cache, ("train",), digits), digits_split(cache, ("val",), digits)
    result = fit(model, train_data((train[0], train[1] - digits.start), (val[0], val[1] - digits.start),
                                   len(digits), 0, 32),
                 config(epochs=EPOCHS, batch_size=32, optimizer={"lr": 5e-3}), device=CPU)
    print(f"  pretrained on digits {digits.start}-{digits.stop - 1}: validation accuracy "
          f"{result.best['accuracy']:.3f}")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def compare(document: dict[str, Any], pretrained: dict[str, torch.Tensor], new_train: Split, held_out: Split,
            per_class: int, seed: int) -> dict[str, float]:
    """Best held-out accuracy of the three ways on one draw of ``per_class`` samples per class."""
    classes = int(held_out[1].max()) + 1
    data = train_data(few_per_class(new_train, per_class, seed), held_out, classes, seed, 10)
    # The same budget for all: epochs, batches and samples. The frozen ways train only the dense
    # layers, for which a higher rate than the fine-tuning default suits a fresh head.
    frozen = {"epochs": EPOCHS, "seed": seed, "optimizer": {"lr": 1e-2}, "freeze": FROZEN}
    scratch = fit(compile_graph(document), data, config(epochs=EPOCHS, seed=seed, optimizer={"lr": 5e-3}),
                  device=CPU)
    tuned = fit(compile_graph(document), data,
                config(**frozen, init_weights={"market_version": 1, "drop": ["logits"]}),
                device=CPU, init_weights=pretrained)
    random = fit(compile_graph(document), data, config(**frozen), device=CPU)
    return {"scratch": scratch.best["accuracy"], "fine-tuned": tuned.best["accuracy"],
            "frozen random": random.best["accuracy"]}


def run(experiment: Experiment, cache: Path, sizes: tuple[int, ...], seeds: tuple[int, ...]) -> None:
    print(f"\n{experiment.name}")
    pretrained = pretrain(cache, experiment.pretrain_on)
    document, _ = replace_head(get_template("lenet5"), "logits", experiment.classes)

    def task(splits: tuple[str, ...]) -> Split:
        x, y = digits_split(cache, splits, experiment.new_digits)
        return x, experiment.new_label(y)

    new_train, held_out = task(("train",)), task(("val", "test"))
    print(f"  {len(held_out[1])} held-out samples; mean best accuracy over {len(seeds)} draws; {EPOCHS} epochs "
          "of batches of 10 for every way")
    print(f"  {'samples':>8} {'scratch':>8} {'fine-tuned':>11} {'frozen random':>14} {'tuned - scratch':>16} "
          f"{'tuned - frozen random':>22}")
    for per_class in sizes:
        runs = [compare(document, pretrained, new_train, held_out, per_class, seed) for seed in seeds]
        mean = {way: statistics.mean(r[way] for r in runs) for way in runs[0]}
        print(f"  {per_class * experiment.classes:>8} {mean['scratch']:>8.3f} {mean['fine-tuned']:>11.3f} "
              f"{mean['frozen random']:>14.3f} {100 * (mean['fine-tuned'] - mean['scratch']):>+15.1f}p "
              f"{100 * (mean['fine-tuned'] - mean['frozen random']):>+21.1f}p", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer draws and sample sizes")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    sizes, seeds = ((5, 20), (0, 1)) if args.quick else ((5, 10, 25), (0, 1, 2))
    started = time.perf_counter()
    print("market: fine-tuning a pretrained LeNet-5 against training it from scratch on a few samples")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ingest("image", write_digits(work), "digits.zip", work / "work", {})
        for experiment in EXPERIMENTS:
            run(experiment, work / "work" / "cache", sizes, seeds)
    print(f"\n(done in {time.perf_counter() - started:.0f} s)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
