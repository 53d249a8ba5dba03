"""Health checks (``health#<stage>`` / ``<checked at>#<request id>``): evidence of a check, not state.

The table's TTL removes each item a day after its check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from conveyor.state import EXPIRATION, PARTITION_KEY, SORT_KEY
from conveyor.state.items import from_item, item, table_client, to_item

RECORD_LIFETIME = timedelta(days=1)


class HealthCheck(BaseModel):
    """One health check of a stage's deployment."""

    stage: str
    request_id: str
    version: str
    checked_at: datetime


def record_check(table_name: str, check: HealthCheck, dynamodb: Any = None) -> None:
    """Write ``check``, to expire RECORD_LIFETIME after it ran."""
    expiration = int((check.checked_at + RECORD_LIFETIME).timestamp())
    table_client(dynamodb).put_item(
        TableName=table_name,
        Item=item(
            f"health#{check.stage}",
            f"{check.checked_at.isoformat()}#{check.request_id}",
            **{EXPIRATION: expiration} | check.model_dump(mode="json", include={"version", "checked_at"}),
        ),
    )


def health_checks(table_name: str, stage: str, dynamodb: Any = None) -> list[HealthCheck]:
    """The checks of ``stage`` not yet expired, oldest first."""
    pages = (
        table_client(dynamodb)
        .get_paginator("query")
        .paginate(
            TableName=table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family",
            ExpressionAttributeValues=to_item({":family": f"health#{stage}"}),
            ConsistentRead=True,
        )
    )
    checks = []
    for plain in (from_item(record) for page in pages for record in page["Items"]):
        request_id = plain[SORT_KEY].split("#", 1)[1]
        checks.append(HealthCheck.model_validate(plain | {"stage": stage, "request_id": request_id}))
    return sorted(checks, key=lambda check: check.checked_at)
