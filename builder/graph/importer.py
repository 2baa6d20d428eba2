"""Import a ``torch.nn.Module`` as a graph document plus the weights to load into it.

``from_module`` traces the module with ``torch.fx`` (in evaluation mode: training-only branches
such as GoogLeNet's auxiliary heads drop out, while training-only layers, dropout in every variant
and torchvision's stochastic depth, are kept as layers that follow the graph's train/eval mode and
draw the same random numbers), runs ``ShapeProp`` on the example input, then
maps every node to a registered layer type: ``importer_document`` walks the graph through the
rules in ``importer_ops`` (modules) and ``importer_functions`` (functions and tensor methods).
Tensors held by the model and used directly (ViT's class token, ConvNeXt's layer scale) become
``parameter`` nodes. Operations with no layer equivalent are collected and reported together in one
``UnsupportedModuleError``.

The returned weights are keyed like ``compile_graph(doc).state_dict()`` (``"<node id>.<name>"``,
buffers included). The document carries no node positions: the canvas lays it out when it opens.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from .errors import GraphError
from .importer_document import DocumentWriter
from .importer_ops import MODULES
from .registry import Shape
from .validate import validate


class UnsupportedModuleError(ValueError):
    """The module uses operations that have no layer type; ``problems`` lists every one as
    ``{"node": fx node name, "operation": what was called, "reason": why}``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        lines = [f"{p['node']}: {p['operation']}: {p['reason']}" for p in problems]
        super().__init__(
            f"{len(problems)} operation(s) can't be imported:\n  " + "\n  ".join(lines)
        )


class InputSizeError(UnsupportedModuleError):
    """The module can't run on the example input (too small, or a size it wasn't built for)."""

    def __init__(self, operation: str, reason: str) -> None:
        self.problems = [{"node": "", "operation": operation, "reason": reason}]
        ValueError.__init__(self, f"{operation}: {reason}")


def from_module(
    module: nn.Module,
    example_input: torch.Tensor | Sequence[torch.Tensor],
    *,
    name: str | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Trace ``module`` on ``example_input`` (one tensor, or one per ``forward`` argument)
    and return ``(graph document, weights)``.

    Raises ``UnsupportedModuleError`` listing every operation that has no layer type (or when
    the module can't be traced at all, or the trace fails where the module itself runs: a branch
    torch.fx took the other way); its subclass ``InputSizeError`` when the module fails on the
    example input.
    """
    examples = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    if type(module) in MODULES:  # a lone layer: trace a module that calls it, not its insides
        module = _Single(module)
    traced = _trace(module, examples)
    writer = DocumentWriter(traced, examples)
    writer.run()
    if writer.problems:
        raise UnsupportedModuleError(writer.problems)
    doc, weights = writer.document(name or type(module).__name__)
    _check_shapes(doc, writer.traced_shapes, examples[0].shape[0])
    return doc, weights


@contextmanager
def _evaluation(module: nn.Module) -> Iterator[None]:
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield
    finally:
        for m, training in modes.items():
            m.training = training


class _Single(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.name = type(layer).__name__.lower()
        self.add_module(self.name, layer)

    def forward(self, x: torch.Tensor) -> Any:
        return getattr(self, self.name)(x)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        # Supported torch.nn modules stay whole; everything else is traced through.
        return type(m) in MODULES or super().is_leaf_module(m, qualname)


def _trace(module: nn.Module, examples: tuple[torch.Tensor, ...]) -> fx.GraphModule:
    name = type(module).__name__
    with _evaluation(module), torch.no_grad():
        try:
            tracer = _Tracer()
            graph = tracer.trace(module)
            traced = fx.GraphModule(tracer.root, graph, name)
        except Exception as exc:  # noqa: BLE001  (any trace failure is the module's, reported as one)
            raise UnsupportedModuleError([{"node": "", "operation": name,
                                           "reason": f"torch.fx can't trace it: {exc}"}]) from exc
        try:
            ShapeProp(traced).propagate(*examples)
        except Exception as exc:  # noqa: BLE001
            cause = exc.__cause__ or exc  # ShapeProp wraps the real error
            shapes = ", ".join(str(list(e.shape)) for e in examples)
            if _runs(module, examples):
                raise UnsupportedModuleError([{"node": "", "operation": name, "reason": (
                    f"torch.fx traced a different path from the one the module runs: the module runs on the "
                    f"example input {shapes} but the traced graph fails on it ({cause}). A branch on a type "
                    f"or value check (torch.jit.isinstance is False for a traced value) took the other side"
                )}]) from exc
            raise InputSizeError(name, f"it fails on the example input {shapes}: {cause}") from exc
    return traced


def _runs(module: nn.Module, examples: tuple[torch.Tensor, ...]) -> bool:
    """Whether the module itself runs on the examples (the caller holds evaluation and no_grad)."""
    try:
        module(*examples)
    except Exception:  # noqa: BLE001  (any failure means the input itself is the problem)
        return False
    return True


def _check_shapes(doc: dict[str, Any], traced: dict[tuple[str, str], Shape], batch: int) -> None:
    """The imported graph must validate and give, at every node, the shape the model gave."""
    report = validate(doc, batch_size=batch)
    if not report.ok:
        raise GraphError(report)
    problems = [
        {"node": node_id, "operation": info.type,
         "reason": f"the layer gives {list(info.outputs[port])} but the model gave {list(traced[(node_id, port)])}"}
        for node_id, info in report.nodes.items()
        for port in info.outputs
        if (node_id, port) in traced and tuple(info.outputs[port]) != traced[(node_id, port)]
    ]
    if problems:
        raise UnsupportedModuleError(problems)
