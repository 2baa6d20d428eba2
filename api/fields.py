"""Serializer fields bounded to the database columns they are stored in or compared with.

A number past a column's range must be refused by the serializer, naming the field: past it, the
database driver raises (SQLite: ``OverflowError``, a 500) or compares it in a wider type. Every id
in this project is a ``BigAutoField`` (a signed 64-bit column on SQLite, PostgreSQL and MySQL), so
ids run from 1 to ``ID_MAX``; ``ModelSerializer`` below gives every related field that bound, and
model integer columns already carry theirs (Django adds the column's range as validators).
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
ID_MAX = BIGINT_MAX


class Int64Field(serializers.IntegerField):
    """DRF's ``IntegerField`` with a signed 64-bit range unless narrower bounds are given."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["min_value"] = max(kwargs.get("min_value", BIGINT_MIN), BIGINT_MIN)
        kwargs["max_value"] = min(kwargs.get("max_value", BIGINT_MAX), BIGINT_MAX)
        super().__init__(**kwargs)


def IdField(**kwargs: Any) -> Int64Field:  # noqa: N802 - used like a field class
    """The id of a row (1 to ``ID_MAX``), for serializers that look the row up themselves."""
    return Int64Field(min_value=1, max_value=ID_MAX, **kwargs)


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Refuses an id outside 1..``ID_MAX`` before it reaches the database."""

    default_error_messages = {"out_of_range": "Invalid pk \"{pk_value}\": ids run from 1 to {max}."}
    min_value = 1
    max_value = ID_MAX

    def to_internal_value(self, data: Any) -> Any:
        if self.pk_field is None and not isinstance(data, bool):
            try:
                value = int(data)
            except (TypeError, ValueError, OverflowError):
                value = None  # not a number: DRF's own message names the type
            if value is not None and not self.min_value <= value <= self.max_value:
                self.fail("out_of_range", pk_value=data, max=self.max_value)
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """The project's ModelSerializer: relations are ``PrimaryKeyRelatedField`` with the id range."""

    serializer_related_field = PrimaryKeyRelatedField
