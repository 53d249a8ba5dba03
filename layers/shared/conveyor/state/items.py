"""State-table items: keys, and DynamoDB's attribute-value form of plain Python items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from conveyor import aws
from conveyor.state import PARTITION_KEY, SORT_KEY

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def table_client(dynamodb: Any = None) -> Any:
    """``dynamodb`` if a caller gives one (tests and tools acting as someone), else the function's own client."""
    return dynamodb or aws.client("dynamodb")


def is_condition_failure(error: ClientError) -> bool:
    """Whether DynamoDB refused a write because its condition did not hold (or, for a
    transaction, cancelled it)."""
    code = error.response["Error"]["Code"]
    return bool(code in ("ConditionalCheckFailedException", "TransactionCanceledException"))


def plain_key(partition: str, sort: str) -> dict[str, str]:
    """The key of an item, as plain values."""
    return {PARTITION_KEY: partition, SORT_KEY: sort}


def key(partition: str, sort: str) -> dict[str, Any]:
    """The key of an item, in attribute-value form."""
    return to_item(plain_key(partition, sort))


def item(partition: str, sort: str, **attributes: Any) -> dict[str, Any]:
    """An item with its key and ``attributes`` (plain values), in attribute-value form."""
    return to_item(plain_key(partition, sort) | attributes)


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
