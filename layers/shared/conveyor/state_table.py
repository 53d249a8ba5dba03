"""Data access to the stack's one DynamoDB state table (partition key ``pk``, sort key ``sk``)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer
from pydantic import BaseModel

from conveyor import aws

_serializer = TypeSerializer()


class Record(BaseModel):
    """An item of the state table. ``expiration`` (epoch seconds) is the table's TTL attribute."""

    pk: str
    sk: str
    expiration: int | None = None

    def to_item(self) -> dict[str, Any]:
        """The record in DynamoDB's attribute-value form, without empty attributes."""
        plain = self.model_dump(mode="json", exclude_none=True)
        return {name: _serializer.serialize(value) for name, value in plain.items()}


class StateTable:
    """Reads and writes records of the state table named ``table_name``."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def put(self, record: Record) -> None:
        """Write ``record``, replacing any item with the same key."""
        aws.client("dynamodb").put_item(TableName=self.table_name, Item=record.to_item())
