"""The release freeze (``control`` / ``freeze``): a flag that ingestion and every workflow check.

The retraining workflow reads the same item directly (its ``Check the release freeze`` state);
template.yaml gives it this key through DefinitionSubstitutions, and a test keeps the two equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor import aws
from conveyor.state.items import from_item, key, to_item

FREEZE_KEY = key("control", "freeze")
# The attribute the workflow's "Are releases frozen" choice reads.
FROZEN = "frozen"


def is_frozen(table_name: str, dynamodb: Any = None) -> bool:
    """Whether releases are frozen (a security finding froze them and no operator lifted it yet)."""
    client = dynamodb or aws.client("dynamodb")
    item = client.get_item(TableName=table_name, Key=FREEZE_KEY, ConsistentRead=True).get("Item")
    return bool(item and from_item(item).get(FROZEN))


def set_frozen(table_name: str, *, frozen: bool, reason: str, now: datetime, dynamodb: Any = None) -> None:
    """Freeze releases, or lift the freeze, recording why and when."""
    client = dynamodb or aws.client("dynamodb")
    attributes = to_item({FROZEN: frozen, "reason": reason, "changed_at": now.isoformat()})
    client.put_item(TableName=table_name, Item=FREEZE_KEY | attributes)
