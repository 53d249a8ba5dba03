"""DynamoDB attribute-value conversion for the state table's plain Python items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(plain: dict[str, Any]) -> dict[str, Any]:
    """A plain dict as DynamoDB attribute values (floats become numbers; None is left out)."""
    return {
        name: _serializer.serialize(Decimal(repr(value)) if isinstance(value, float) else value)
        for name, value in plain.items()
        if value is not None
    }


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values as a plain dict (whole numbers as int, others as float)."""
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    return {
        name: (int(value) if value == value.to_integral_value() else float(value))
        if isinstance(value, Decimal)
        else value
        for name, value in plain.items()
    }
