"""Built-in layer types, one module per family; importing this package registers them all."""

from . import (
    activation,
    attention,
    conv,
    inputs,
    linear,
    merge,
    misc,
    norm,
    pooling,
    recurrent,
    regularization,
    shape_ops,
)

__all__ = [
    "activation",
    "attention",
    "conv",
    "inputs",
    "linear",
    "merge",
    "misc",
    "norm",
    "pooling",
    "recurrent",
    "regularization",
    "shape_ops",
]
