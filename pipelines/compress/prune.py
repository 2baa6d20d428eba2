"""Structured channel pruning with Torch-Pruning's dependency graph, mapped back onto the canvas.

The compiled graph names each submodule after its node id, so after Torch-Pruning has removed
channels (keeping residual additions, concatenations, grouped convolutions, norms and the linear
after a flatten consistent) the new channel counts are read off the modules and written into a
copy of the graph document. The pruned weights are the module's state dict; the new document
compiled and loaded with them gives the pruned model's outputs, which ``prune_package`` checks.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch_pruning as tp
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from pipelines.export.package import ModelPackage, PackageError

# The params whose value comes from a pruned module; every other size derives from input shapes.
_PARAM_ATTRS: dict[str, tuple[tuple[str, str], ...]] = {
    **{t: (("out_channels", "out_channels"), ("groups", "groups")) for t in (
        "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")},
    "linear": (("out_features", "out_features"),),
    "group_norm": (("num_groups", "num_groups"),),
    "embedding": (("embedding_dim", "embedding_dim"),),
}
# Walking back from a graph output, these end the walk: their output channels are the model's.
_PRODUCERS = frozenset(t for t in _PARAM_ATTRS if t not in ("group_norm",))
# Layers Torch-Pruning must leave whole: their sizes are not all expressible as params here.
_UNPRUNABLE = (nn.LSTM, nn.GRU, nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.Embedding)
PARITY_TOLERANCE = 1e-4


class PruneConfig(BaseModel):
    """How to prune. Exactly one target: ``ratio`` (of channels), ``target_params`` or ``target_flops``."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["l1", "l2", "bn_scale", "taylor"] = Field("l2", description="Channel importance.")
    scope: Literal["uniform", "global"] = Field(
        "uniform", description="uniform: the same ratio in every layer; global: rank channels across layers.")
    ratio: float | None = Field(None, gt=0.0, lt=1.0, description="Share of channels to remove.")
    target_params: int | None = Field(None, ge=1, description="Prune until at most this many parameters.")
    target_flops: int | None = Field(None, ge=1, description="Prune until at most this many FLOPs (batch 1).")
    max_ratio: float = Field(0.95, gt=0.0, lt=1.0, description="Most a layer may lose when aiming at a target.")
    steps: int = Field(40, ge=1, le=200, description="Increments when aiming at a target.")
    round_to: int | None = Field(None, ge=1, le=64, description="Keep channel counts multiples of this.")
    finetune_epochs: int = Field(0, ge=0, le=1000, description="Epochs of fine-tuning after pruning, started as a "
                                 "training run of the pruned graph version on the original run's data.")

    @model_validator(mode="after")
    def _one_target(self) -> PruneConfig:
        chosen = [n for n in ("ratio", "target_params", "target_flops") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of ratio, target_params or target_flops")
        return self


@dataclass
class PruneResult:
    package: ModelPackage
    changes: dict[str, dict[str, list[int]]]  # node id -> param -> [before, after]
    target_reached: bool
    parity_max_abs_diff: float
    steps_taken: int
    notes: list[str] = field(default_factory=list)


def prune_package(package: ModelPackage, config: PruneConfig, samples: Sequence[torch.Tensor],
                  labels: torch.Tensor | None = None) -> PruneResult:
    """Prune ``package``'s channels as ``config`` says. ``samples`` holds one tensor per graph input
    (a few real samples: the dependency graph is traced on them, Taylor importance and the parity
    check use them); ``labels`` are class indices for Taylor importance. Raises ``PackageError``."""
    model = package.module()
    inputs = tuple(samples)
    protected = output_layers(package.document, model)
    ignored = protected + [m for m in model.modules() if isinstance(m, _UNPRUNABLE)]
    targeted = config.ratio is None
    pruner = tp.pruner.MetaPruner(
        model, tuple(x[:1] for x in inputs), importance=_importance(config.method),
        pruning_ratio=config.max_ratio if targeted else float(config.ratio or 0.0),
        iterative_steps=config.steps if targeted else 1, global_pruning=config.scope == "global",
        ignored_layers=ignored, round_to=config.round_to,
    )
    steps, reached = 0, not targeted
    limit = config.steps if targeted else 1
    while steps < limit:
        if targeted and _measure(model, inputs[:1], config) <= _target(config):
            reached = True
            break
        if config.method == "taylor":
            _taylor_gradients(model, inputs, labels)
        pruner.step()
        steps += 1
    if targeted and not reached:
        reached = _measure(model, inputs[:1], config) <= _target(config)
    model.zero_grad(set_to_none=True)
    document, changes = document_for(package.document, model)
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    pruned = ModelPackage(document, weights, copy.deepcopy(package.card))
    diff = _parity(model, pruned, inputs)
    notes = [] if reached else [f"stopped at max_ratio {config.max_ratio} before reaching the target"]
    return PruneResult(pruned, changes, reached, diff, steps, notes)


def output_layers(document: dict[str, Any], model: nn.Module) -> list[nn.Module]:
    """The layers whose channels are the model's outputs (classifier heads, final convs): walking
    back from each graph output through shape-keeping nodes to the first layer that sets a size."""
    from builder.graph import validate

    report = validate(document)
    types = {n["id"]: n["type"] for n in document.get("nodes", [])}
    parents: dict[str, list[str]] = {}
    for edge in document.get("edges", []):
        parents.setdefault(edge["target"], []).append(edge["source"])
    modules = dict(model.named_children())
    found: list[nn.Module] = []
    stack = [ref.split(":", 1)[0] for ref in report.outputs]
    seen: set[str] = set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        if types.get(node_id) in _PRODUCERS and node_id in modules:
            found.append(modules[node_id])
            continue
        stack.extend(parents.get(node_id, []))
    return found


def document_for(document: dict[str, Any], model: nn.Module) -> tuple[dict[str, Any], dict[str, dict[str, list[int]]]]:
    """A copy of ``document`` whose size params match ``model``'s (pruned) modules, and the changes."""
    from builder.graph import registry

    new = copy.deepcopy(document)
    modules = dict(model.named_children())
    changes: dict[str, dict[str, list[int]]] = {}
    for node in new.get("nodes", []):
        module = modules.get(node["id"])
        attrs = _PARAM_ATTRS.get(node["type"])
        if module is None or attrs is None:
            continue
        layer = registry.get(node["type"])
        assert layer is not None
        parsed = layer.parse_params(node.get("params", {}))
        for param, attr in attrs:
            before, after = int(getattr(parsed, param)), int(getattr(module, attr))
            if before != after:
                node.setdefault("params", {})[param] = after
                changes.setdefault(node["id"], {})[param] = [before, after]
    return new, changes


def _importance(method: str) -> Any:
    if method == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if method == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if method == "bn_scale":
        return tp.importance.BNScaleImportance()
    return tp.importance.GroupTaylorImportance()


def _taylor_gradients(model: nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor | None) -> None:
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        output = model(*inputs)
        output = output[0] if isinstance(output, tuple) else output
        if labels is not None and output.dim() == 2:
            loss = nn.functional.cross_entropy(output, labels)
        else:  # no labels: keep the output's energy, a label-free proxy
            loss = output.float().pow(2).mean()
        loss.backward()


def _target(config: PruneConfig) -> int:
    return int(config.target_params if config.target_params is not None else config.target_flops or 0)


def _measure(model: nn.Module, example: tuple[torch.Tensor, ...], config: PruneConfig) -> int:
    if config.target_params is not None:
        return sum(p.numel() for p in model.parameters())
    macs, _ = tp.utils.count_ops_and_params(model, example)
    return int(2 * macs)


def _parity(pruned_model: nn.Module, package: ModelPackage, inputs: tuple[torch.Tensor, ...]) -> float:
    """Largest difference between the pruned module and the new document compiled with its weights."""
    pruned_model.eval()
    try:
        rebuilt = package.module()
    except (RuntimeError, ValueError) as exc:
        raise PackageError("pruned_graph_mismatch",
                           f"the pruned model cannot be written back as a graph: {exc}") from exc
    with torch.inference_mode():
        a, b = pruned_model(*inputs), rebuilt(*inputs)
    pairs = list(zip(a, b, strict=True)) if isinstance(a, tuple) else [(a, b)]
    diff = max(float((x - y).abs().max()) for x, y in pairs)
    scale = max(1.0, *(float(x.abs().max()) for x, _ in pairs))
    if diff > PARITY_TOLERANCE * scale:
        raise PackageError("pruned_graph_mismatch", f"the rebuilt graph differs from the pruned model by {diff:.3g}")
    return diff
