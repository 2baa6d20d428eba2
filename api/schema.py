"""The OpenAPI schema's AutoSchema: every operation documents the errors it can answer.

drf-spectacular documents the success responses a view declares; the errors come from layers a
view does not see (authentication, permissions, parsers, the body-size middleware, throttles,
``get_object``, pagination, ``api.exceptions``). They follow from the operation itself, so they
are added here from what the operation has, with the real bodies of ``api/exceptions.py``:
``{"detail": "..."}``, or for a 400 an object naming each bad field with its messages.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from api.fields import PrimaryKeyRelatedField

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorSerializer(serializers.Serializer):
    """The body of every error but a 400's: ``{"detail": "..."}`` (the component ``Error``)."""

    detail = serializers.CharField(help_text="What is wrong, in words.")


VALIDATION_ERROR = {
    "type": "object",
    "description": "Each key names a bad field (or `non_field_errors`) and holds its messages, or an "
                   "object of its own bad fields; a body that is not valid JSON answers `detail`.",
    "additionalProperties": {},
}
DESCRIPTIONS = {
    400: "The body or a parameter is invalid, or the request breaks a rule; the body names the field.",
    401: "No credentials, or credentials that are not valid.",
    403: "Signed in, but not allowed (role, CSRF token) to do this.",
    404: "No such object visible to you, or no such page.",
    413: "The request body is over the size limit.",
    415: "The request body's Content-Type is not one this operation reads.",
    429: "Too many requests; Retry-After says when to try again.",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code in self._error_codes(operation):
            responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
        for code, response in responses.items():
            # An error a view declares with a description only gets the body it really has.
            if code.isdigit() and int(code) >= 400 and "content" not in response and self.method != "HEAD":
                response["content"] = {"application/json": {"schema": self._error_body(int(code))}}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_body(self, code: int) -> dict[str, str]:
        if code == 400:
            return self._component("ValidationError", VALIDATION_ERROR)
        return self.resolve_serializer(ErrorSerializer, "response").ref

    def _error_codes(self, operation: dict[str, Any]) -> set[int]:
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        has_body = "requestBody" in operation
        unsafe = self.method in UNSAFE
        codes: set[int] = set()
        if has_body or query or unsafe:
            codes.add(400)
        if self.view.get_authenticators():
            codes.add(401)  # a bad token is refused on every view, open ones included
        if unsafe or any(not isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes.add(403)
        if "path" in where or "page" in query:
            codes.add(404)
        if has_body:
            codes |= {413, 415}
        if self.view.get_throttles():
            codes.add(429)
        return codes

    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component.ref

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict):
            return schema
        # "" is a valid value of a blank-allowed email or URL, and no string format admits it.
        if getattr(field, "allow_blank", False) and "format" in schema:
            schema = {key: value for key, value in schema.items() if key != "format"}
        if isinstance(field, PrimaryKeyRelatedField) and schema.get("type") == "integer":
            schema = {**schema, "minimum": field.min_value, "maximum": field.max_value}
        return schema


def json_schema_to_openapi30(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook. pydantic publishes JSON Schema 2020-12 (RunConfig's
    components); the schema is OpenAPI 3.0, so its few differences are rewritten: a ``{"type":
    "null"}`` branch becomes ``nullable``, numeric ``exclusiveMinimum``/``exclusiveMaximum``
    become a bound with the boolean flag, ``const`` becomes a one-value ``enum``."""
    return _openapi30(result)


def _openapi30(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi30(value) for key, value in node.items()}
    for union in ("anyOf", "oneOf"):
        branches = node.get(union)
        if isinstance(branches, list) and {"type": "null"} in branches:
            rest = [branch for branch in branches if branch != {"type": "null"}]
            del node[union]
            if len(rest) == 1 and "$ref" in rest[0]:
                node.update({"allOf": rest, "nullable": True})
            elif len(rest) == 1:
                node.update({**rest[0], "nullable": True})
            else:
                node.update({union: rest, "nullable": True})
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[bound], node[exclusive] = value, True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return node
