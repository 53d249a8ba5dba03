"""The release freeze: a flag in the state table that ingestion and every release workflow check."""

from __future__ import annotations

from conveyor import aws
from conveyor.dynamo import from_item

FREEZE_KEY = {"pk": {"S": "control"}, "sk": {"S": "freeze"}}


def is_frozen(table_name: str) -> bool:
    """Whether releases are frozen (a security finding froze them and no operator lifted it yet)."""
    item = aws.client("dynamodb").get_item(TableName=table_name, Key=FREEZE_KEY, ConsistentRead=True).get("Item")
    return bool(item and from_item(item).get("frozen"))
