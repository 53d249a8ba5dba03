"""The champion (``champion`` / ``current``): the model in service, set when a canary promotes it.

The retraining gate compares each new model with this one. A package that was approved but rolled
back never becomes the champion. With ``EndpointEnabled`` false the canary workflow sets it as soon
as the package is released (there is no live traffic to gate on).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from conveyor.state.items import from_item, item, key, table_client

CHAMPION_KEY = key("champion", "current")


class ChampionPointer(BaseModel):
    package_arn: str
    version: int
    model_name: str | None = None
    variant_name: str | None = None
    endpoint_config_name: str | None = None
    promoted_at: datetime


def current_champion(table_name: str, dynamodb: Any = None) -> ChampionPointer | None:
    """The model in service, or None before the first release."""
    found = table_client(dynamodb).get_item(TableName=table_name, Key=CHAMPION_KEY, ConsistentRead=True)
    return ChampionPointer.model_validate(from_item(found["Item"])) if "Item" in found else None


def set_champion(table_name: str, champion: ChampionPointer, dynamodb: Any = None) -> None:
    """Make ``champion`` the model in service."""
    table_client(dynamodb).put_item(
        TableName=table_name, Item=item("champion", "current", **champion.model_dump(mode="json", exclude_none=True))
    )
