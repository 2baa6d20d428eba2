"""The layer registry: every layer type is declared once, here or in a plugin.

A layer type is a class with a stable snake_case ``id``, a ``category``, a one-line ``doc``,
a Pydantic ``Params`` model (ranges, defaults, descriptions: served as JSON Schema), its ports,
a pure shape rule, its parameter count and FLOPs, and a ``build`` that returns the
``torch.nn.Module`` that runs it.

Shapes are tuples of ints and always include the batch dimension first (``validate`` uses the
batch size it is given). A shape rule never allocates a tensor.

Plugins: an installed distribution that exposes layer classes under the entry-point group
``visual_model_builder.layers`` is loaded by :func:`load_plugins` (called once at start-up);
each entry point names either one ``LayerType`` subclass or a module whose ``LAYERS`` list
holds several.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]
PLUGIN_GROUP = "visual_model_builder.layers"
REGISTRY_VERSION = 1


class ShapeError(Exception):
    """Raised by a shape rule when its inputs cannot work; becomes one validation error.

    ``code`` is a stable snake_case code (``shape_mismatch``, ``invalid_param``...), ``port`` the
    input port at fault (or ``None``), ``fix`` an optional machine-readable suggestion such as
    ``{"insert": "flatten"}`` that the canvas offers as a one-click fix (the vocabulary is
    described in ``fixes.py``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "shape_mismatch",
        port: str | None = None,
        fix: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.port = port
        self.fix = fix


@dataclass(frozen=True)
class Port:
    """A named input or output of a layer. ``doc`` is shown as the port's tooltip."""

    name: str
    doc: str = ""
    optional: bool = False


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerType:
    """Base class of every layer type. Subclasses set the class attributes and override the rules.

    Ports: ``inputs``/``outputs`` are fixed tuples. A layer with a variable number of inputs
    (add, concat, multiply) sets ``variadic_param`` to the name of an int parameter
    (``num_inputs``); its input ports are then ``in0 .. in{n-1}``. Likewise a layer with a
    variable number of outputs (chunk) sets ``variadic_outputs_param`` (``chunks``); its output
    ports are then ``out0 .. out{n-1}``.

    ``build(params, in_shapes)`` returns a module called as ``module(*inputs)`` with the inputs
    in ``input_ports(params)`` order; it returns one tensor when there is one output port, else a
    tuple in ``outputs`` order. An unconnected optional port is passed as ``None`` (trailing ones
    may be left out); ``in_shapes`` has no entry for it.

    ``examples`` lists representative ``{"params": {...}, "inputs": {port: shape}}`` cases (shapes
    with the batch first); the registry walk test builds each one and checks the shape rule,
    parameter count and FLOPs against a real forward pass.
    """

    id: ClassVar[str]
    category: ClassVar[str]
    doc: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    inputs: ClassVar[tuple[Port, ...]] = (Port("in"),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out"),)
    variadic_param: ClassVar[str | None] = None
    variadic_outputs_param: ClassVar[str | None] = None
    # True for graph inputs (image, volume, vector, tokens): they have no input ports and their
    # output shape comes from their params alone.
    is_input: ClassVar[bool] = False
    examples: ClassVar[list[dict[str, Any]]] = []

    # ---- ports -------------------------------------------------------------------------
    def input_ports(self, params: BaseModel) -> list[str]:
        if self.variadic_param is not None:
            return [f"in{i}" for i in range(int(getattr(params, self.variadic_param)))]
        return [p.name for p in self.inputs]

    def output_ports(self, params: BaseModel) -> list[str]:
        if self.variadic_outputs_param is not None:
            return [f"out{i}" for i in range(int(getattr(params, self.variadic_outputs_param)))]
        return [p.name for p in self.outputs]

    # ---- rules (override) --------------------------------------------------------------
    def parse_params(self, raw: Mapping[str, Any]) -> BaseModel:
        """Validate raw JSON params; raises ``pydantic.ValidationError``."""
        return self.Params.model_validate(dict(raw))

    def infer(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> dict[str, Shape]:
        """Output shape per output port, from the input shapes. Raises ``ShapeError``."""
        raise NotImplementedError

    def param_count(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> int:
        """Number of trainable parameters the built module will have."""
        return 0

    def flops(
        self,
        params: BaseModel,
        in_shapes: Mapping[str, Shape],
        out_shapes: Mapping[str, Shape],
    ) -> int:
        """Forward FLOPs for the whole batch (a multiply-add counts as 2)."""
        return 0

    def build(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> nn.Module:
        raise NotImplementedError

    def sample_shape(self, params: BaseModel) -> Shape:
        """Input layers: the shape of one sample (no batch dimension) fed to this input."""
        return next(iter(self.infer(params, {}).values()))[1:]

    def output_dtypes(
        self, params: BaseModel, in_dtypes: Mapping[str, str]
    ) -> dict[str, str]:
        """Dtype per output port ("float32" or "int64"). Most layers compute on floats, so the
        default refuses token ids (raise ``ShapeError`` with code ``dtype_mismatch``)."""
        for port, dtype in in_dtypes.items():
            if dtype != "float32":
                raise ShapeError(
                    f"{self.id} computes on float values but got token ids ({dtype}): "
                    "insert an embedding?",
                    code="dtype_mismatch",
                    port=port,
                    fix={"insert": "embedding"},
                )
        return {name: "float32" for name in self.output_ports(params)}

    def advice(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[ShapeError]:
        """Shapes that work but are probably a mistake; each becomes a validation warning."""
        return []

    def remedies(self, params: BaseModel, in_shapes: Mapping[str, Shape]) -> list[dict[str, Any]]:
        """Parameter changes that may make ``infer`` accept ``in_shapes`` after it refused them,
        best first (``{"padding": "same"}``). The validator offers the first one that works as a
        ``{"set": ...}`` fix; a change that does not work is never shown."""
        return []

    # ---- description served to the canvas ----------------------------------------------
    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "id": cls.id,
            "category": cls.category,
            "doc": cls.doc,
            "params_schema": cls.Params.model_json_schema(),
            "inputs": [{"name": p.name, "doc": p.doc, "optional": p.optional} for p in cls.inputs]
            if cls.variadic_param is None
            else [],
            "variadic": {"param": cls.variadic_param, "prefix": "in"} if cls.variadic_param else None,
            "outputs": [{"name": p.name, "doc": p.doc} for p in cls.outputs]
            if cls.variadic_outputs_param is None
            else [],
            "variadic_outputs": {"param": cls.variadic_outputs_param, "prefix": "out"}
            if cls.variadic_outputs_param
            else None,
            "is_input": cls.is_input,
        }


class DuplicateLayerError(ValueError):
    pass


class LayerRegistry:
    def __init__(self) -> None:
        self._types: dict[str, LayerType] = {}
        self._sources: dict[str, str] = {}

    def register(self, cls: type[LayerType], *, source: str = "builtin") -> type[LayerType]:
        type_id = cls.id
        if not type_id or type_id != type_id.lower() or " " in type_id:
            raise ValueError(f"layer id {type_id!r} must be snake_case")
        if type_id in self._types:
            raise DuplicateLayerError(
                f"layer type {type_id!r} is already registered (by {self._sources[type_id]})"
            )
        self._types[type_id] = cls()
        self._sources[type_id] = source
        return cls

    def get(self, type_id: str) -> LayerType | None:
        return self._types.get(type_id)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types

    def __iter__(self) -> Iterator[LayerType]:
        return iter(self._types.values())

    def ids(self) -> list[str]:
        return sorted(self._types)

    def source_of(self, type_id: str) -> str:
        return self._sources[type_id]

    def describe_all(self) -> list[dict[str, Any]]:
        out = []
        for type_id in self.ids():
            d = type(self._types[type_id]).describe()
            d["source"] = self._sources[type_id]
            out.append(d)
        return out

    def unregister(self, type_id: str) -> None:
        """For tests that register a throw-away type."""
        self._types.pop(type_id, None)
        self._sources.pop(type_id, None)


registry = LayerRegistry()


def register(cls: type[LayerType]) -> type[LayerType]:
    """Class decorator: add a built-in layer type to the global registry."""
    return registry.register(cls)


_plugins_loaded = False


def load_plugins(force: bool = False) -> list[str]:
    """Load layer types from installed plugins; returns the ids added. Idempotent."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    added: list[str] = []
    for ep in entry_points(group=PLUGIN_GROUP):
        obj = ep.load()
        classes: Sequence[type[LayerType]]
        if isinstance(obj, type) and issubclass(obj, LayerType):
            classes = [obj]
        else:
            classes = list(getattr(obj, "LAYERS", []))
        source = f"plugin:{ep.dist.name if ep.dist else ep.name}"
        for cls in classes:
            if cls.id in registry and registry.source_of(cls.id) == source:
                continue
            registry.register(cls, source=source)
            added.append(cls.id)
    return added
