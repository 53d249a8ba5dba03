"""Releases (``release`` / ``v<version>``): which approved model packages have been released.

The registry's "SageMaker Model Package State Change" event is delivered at least once, so the
start_release function records each package version here with conditional writes, and a
duplicate of an event it has handled changes nothing:

- ``STARTING``: an attempt claimed the release and is starting the release workflows. A claim
  older than the timeout is taken to have crashed, and the next delivery takes it over (the
  workflows' execution names make the second start harmless);
- ``STARTED``: both workflows were started and "Release Started" was published;
- ``REFUSED``: the approval came while releases were frozen. A later approval event (a new event
  id, once an operator has unfrozen and approved again) may claim it; a duplicate of the refused
  event may not;
- ``withdrawn_at``: the package was rejected after its release started, and that was announced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor.state import PARTITION_KEY
from conveyor.state.items import from_item, is_condition_failure, item, key, table_client, to_item

FAMILY = "release"


class ReleaseStatus(StrEnum):
    STARTING = "STARTING"
    STARTED = "STARTED"
    REFUSED = "REFUSED"


class ReleaseRecord(BaseModel):
    """A package's release as the state table holds it."""

    version: int
    package_arn: str
    status: ReleaseStatus
    event_id: str
    claimed_at: datetime
    started_at: datetime | None = None
    executions: list[str] | None = None
    refused_reason: str | None = None
    withdrawn_at: datetime | None = None


def _sort_key(version: int) -> str:
    return f"v{version:06d}"


def get_release(table_name: str, version: int, dynamodb: Any = None) -> ReleaseRecord | None:
    """The release of package ``version``, or None if none was ever claimed or refused."""
    found = table_client(dynamodb).get_item(
        TableName=table_name, Key=key(FAMILY, _sort_key(version)), ConsistentRead=True
    )
    return ReleaseRecord.model_validate(from_item(found["Item"])) if "Item" in found else None


def _put(table_name: str, record: ReleaseRecord, condition: str, values: dict[str, Any], dynamodb: Any) -> bool:
    try:
        table_client(dynamodb).put_item(
            TableName=table_name,
            Item=item(FAMILY, _sort_key(record.version), **record.model_dump(mode="json", exclude_none=True)),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


class Claim(StrEnum):
    CLAIMED = "CLAIMED"
    """This attempt starts the release (a new one, a refused one approved again, or a crashed attempt's)."""
    STARTED = "STARTED"
    """The release has started: nothing to do."""
    REFUSED = "REFUSED"
    """This very approval event was refused (releases were frozen): nothing to do."""
    BUSY = "BUSY"
    """Another attempt claimed it less than the timeout ago: it may still be starting it, or have crashed."""


def claim_release(
    table_name: str,
    *,
    version: int,
    package_arn: str,
    event_id: str,
    now: datetime,
    timeout: timedelta,
    dynamodb: Any = None,
) -> Claim:
    """Claim the release of ``version`` for this attempt (see :class:`Claim`)."""
    record = ReleaseRecord(
        version=version, package_arn=package_arn, status=ReleaseStatus.STARTING, event_id=event_id, claimed_at=now
    )
    # Timestamps compared in conditions are all written by isoformat(), so their text orders them.
    condition = (
        f"attribute_not_exists({PARTITION_KEY}) OR (#status = :refused AND event_id <> :event)"
        " OR (#status = :starting AND claimed_at < :stale)"
    )
    values = {
        ":refused": ReleaseStatus.REFUSED.value,
        ":starting": ReleaseStatus.STARTING.value,
        ":event": event_id,
        ":stale": (now - timeout).isoformat(),
    }
    if _put(table_name, record, condition, values, dynamodb):
        return Claim.CLAIMED
    current = get_release(table_name, version, dynamodb)
    if current is not None and current.status == ReleaseStatus.STARTED:
        return Claim.STARTED
    if current is not None and current.status == ReleaseStatus.REFUSED:
        return Claim.REFUSED
    return Claim.BUSY


def refuse_release(
    table_name: str,
    *,
    version: int,
    package_arn: str,
    event_id: str,
    reason: str,
    now: datetime,
    dynamodb: Any = None,
) -> bool:
    """Record that the approval event ``event_id`` started nothing; False if it was already recorded
    (a duplicate) or the release has started."""
    record = ReleaseRecord(
        version=version,
        package_arn=package_arn,
        status=ReleaseStatus.REFUSED,
        event_id=event_id,
        claimed_at=now,
        refused_reason=reason,
    )
    condition = f"attribute_not_exists({PARTITION_KEY}) OR (#status = :refused AND event_id <> :event)"
    return _put(table_name, record, condition, {":refused": ReleaseStatus.REFUSED.value, ":event": event_id}, dynamodb)


def complete_release(
    table_name: str, version: int, *, executions: list[str], now: datetime, dynamodb: Any = None
) -> None:
    """Mark the release STARTED, with the executions that carry it."""
    table_client(dynamodb).update_item(
        TableName=table_name,
        Key=key(FAMILY, _sort_key(version)),
        UpdateExpression="SET #status = :started, started_at = :now, executions = :executions",
        ConditionExpression=f"attribute_exists({PARTITION_KEY})",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=to_item(
            {":started": ReleaseStatus.STARTED.value, ":now": now.isoformat(), ":executions": executions}
        ),
    )


def withdraw_release(table_name: str, version: int, *, now: datetime, dynamodb: Any = None) -> ReleaseRecord | None:
    """Mark a started release withdrawn (its package was rejected); None if it never started or
    its withdrawal was already recorded."""
    try:
        response = table_client(dynamodb).update_item(
            TableName=table_name,
            Key=key(FAMILY, _sort_key(version)),
            UpdateExpression="SET withdrawn_at = :now",
            ConditionExpression="#status IN (:starting, :started) AND attribute_not_exists(withdrawn_at)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":now": now.isoformat(),
                    ":starting": ReleaseStatus.STARTING.value,
                    ":started": ReleaseStatus.STARTED.value,
                }
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return ReleaseRecord.model_validate(from_item(response["Attributes"]))
