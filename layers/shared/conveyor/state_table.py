"""Data access to the stack's one DynamoDB state table (partition key ``pk``, sort key ``sk``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conveyor import aws
from conveyor.dynamo import to_item


class Record(BaseModel):
    """An item of the state table. ``expiration`` (epoch seconds) is the table's TTL attribute."""

    pk: str
    sk: str
    expiration: int | None = None

    def to_item(self) -> dict[str, Any]:
        """The record in DynamoDB's attribute-value form, without empty attributes."""
        return to_item(self.model_dump(mode="json", exclude_none=True))


class StateTable:
    """Reads and writes records of the state table named ``table_name``."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def put(self, record: Record) -> None:
        """Write ``record``, replacing any item with the same key."""
        aws.client("dynamodb").put_item(TableName=self.table_name, Item=record.to_item())
