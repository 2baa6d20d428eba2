"""Validation problems as records, and the exception that carries a failed report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from .report import ValidationReport


@dataclass(frozen=True)
class Issue:
    """One problem (an error or a warning) the canvas can pin to a node or port.

    ``code`` is stable snake_case (``shape_mismatch``, ``missing_input``...); ``port`` the port
    at fault, ``param`` the parameter at fault (for ``invalid_param``), ``fix`` an optional
    machine-readable suggestion such as ``{"insert": "flatten"}``.
    """

    code: str
    message: str
    node_id: str | None = None
    port: str | None = None
    fix: dict[str, Any] | None = None
    param: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "port": self.port,
            "param": self.param,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
        }


class GraphError(Exception):
    """A graph that can't be compiled or run; ``.report`` holds every problem found."""

    def __init__(self, report: ValidationReport, *, shown: int = 3) -> None:
        self.report = report
        errors = report.errors
        summary = "; ".join(e.message for e in errors[:shown]) or "the graph is invalid"
        if len(errors) > shown:
            summary += f" (and {len(errors) - shown} more)"
        super().__init__(summary)


_TYPE_WORDS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "missing": "is required",
}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _explain_one(error: Any, layer_id: str) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {ctx.get(key)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return f"is not a parameter of {layer_id}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def explain_param_errors(exc: ValidationError, layer_id: str) -> list[tuple[str | None, str]]:
    """One ``(param, message)`` per faulty parameter, in words a person reads on the form:
    ``out_channels must be >= 1``. A union (int, list or 'same') fails once per branch;
    the branch about the value rather than its type is the one worth showing."""
    by_param: dict[str | None, list[Any]] = {}
    for error in exc.errors(include_url=False):
        param = str(error["loc"][0]) if error["loc"] else None
        by_param.setdefault(param, []).append(error)
    out: list[tuple[str | None, str]] = []
    for param, errors in by_param.items():
        if len(errors) > 1:
            about_value = [
                e for e in errors if not e["type"].endswith("_type") and e["type"] != "literal_error"
            ]
            errors = about_value if len(about_value) == 1 else errors
        if len(errors) == 1:
            text = _explain_one(errors[0], layer_id)
        else:
            text = f"has an invalid value {errors[0].get('input')!r}"
        out.append((param, f"{param} {text}" if param else text))
    return out
