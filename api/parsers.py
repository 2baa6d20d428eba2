"""DRF's JSON parser with a bound on nesting, the project's default parser.

Python's ``json`` recurses once per level: a body nested past the interpreter's recursion limit
raises ``RecursionError`` (a 500), and one just under it makes every later recursive walk (the
serializers, ``json.dumps`` of a document, the graph validator) run at the edge of the stack. No
request of this API needs more than a few levels, so deeper bodies are refused with a 400.
"""
from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64


def json_depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` (parsed JSON) nests objects and arrays more than ``limit`` deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    """Parses like DRF's, and answers 400 for JSON nested more than ``MAX_JSON_DEPTH`` levels."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(self._too_deep()) from None
        if json_depth_over(data, self.max_depth):
            raise ParseError(self._too_deep())
        return data

    def _too_deep(self) -> str:
        return f"JSON parse error - arrays and objects nest more than {self.max_depth} levels deep."
