"""Security findings (``finding`` / ``<finding id>``): what the security responder found and did.

A finding's id is the CloudTrail ``eventID`` of the event that raised it, so the same event,
delivered any number of times, names one finding. The responder claims the finding with a
conditional write before it acts, records each step it completes, and marks the finding ``DONE``:

- a claim on a new finding succeeds (``NEW``);
- a claim on a finding ``DONE`` fails (``DONE``: a duplicate, nothing to do);
- a claim on a finding ``IN_PROGRESS`` fails (``BUSY``) until its claim is older than the
  timeout: then the attempt that held it is taken to have crashed, and the claim is taken over
  (``TAKEN_OVER``), keeping the steps that attempt recorded, so none is done twice.

Every later write is conditional on the claim's token: an attempt whose claim was taken over
cannot overwrite its successor's record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor.errors import ConveyorError
from conveyor.state import PARTITION_KEY
from conveyor.state.items import from_item, is_condition_failure, item, key, table_client, to_item

FAMILY = "finding"
# A released claim's time: older than any timeout.
RELEASED = "1970-01-01T00:00:00+00:00"


class ClaimLostError(ConveyorError):
    """Another attempt took the finding's claim over (this one was too slow); it stops here."""


class ClaimOutcome(StrEnum):
    NEW = "NEW"
    TAKEN_OVER = "TAKEN_OVER"
    DONE = "DONE"
    BUSY = "BUSY"


class FindingRecord(BaseModel):
    """A finding as the state table holds it."""

    finding_id: str
    status: str
    claim_token: str
    claimed_at: datetime
    attempts: int = 1
    kind: str = ""
    severity: str = ""
    title: str = ""
    summary: str = ""
    event_name: str = ""
    event_source: str = ""
    event_time: datetime | None = None
    resource_type: str = ""
    resource: str = ""
    principal: str = ""
    principal_type: str = ""
    source_ip_address: str | None = None
    user_agent: str | None = None
    region: str = ""
    succeeded: bool = True
    freezes: bool = False
    # Steps completed, each set once by the attempt that did it.
    remediated: list[str] | None = None
    manual_steps: list[str] | None = None
    frozen_at: datetime | None = None
    imported_at: datetime | None = None
    alerted_at: datetime | None = None
    completed_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    acknowledge_reason: str | None = None


class Claim(BaseModel):
    outcome: ClaimOutcome
    record: FindingRecord | None = None


def get_finding(table_name: str, finding_id: str, dynamodb: Any = None) -> FindingRecord | None:
    """The finding, or None if it was never claimed."""
    found = table_client(dynamodb).get_item(TableName=table_name, Key=key(FAMILY, finding_id), ConsistentRead=True)
    return FindingRecord.model_validate(from_item(found["Item"])) if "Item" in found else None


def list_findings(table_name: str, dynamodb: Any = None) -> list[FindingRecord]:
    """Every finding recorded, oldest claim first."""
    pages = (
        table_client(dynamodb)
        .get_paginator("query")
        .paginate(
            TableName=table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family",
            ExpressionAttributeValues=to_item({":family": FAMILY}),
            ConsistentRead=True,
        )
    )
    found = [FindingRecord.model_validate(from_item(record)) for page in pages for record in page["Items"]]
    return sorted(found, key=lambda record: record.claimed_at)


def claim_finding(
    table_name: str,
    record: FindingRecord,
    *,
    now: datetime,
    timeout: timedelta,
    dynamodb: Any = None,
) -> Claim:
    """Claim ``record`` (a new finding with its facts) for this attempt; see the module docstring."""
    client = table_client(dynamodb)
    # Timestamps compared in conditions are all written by isoformat(), so their text orders them.
    attributes = record.model_dump(mode="json", exclude_none=True) | {
        "status": "IN_PROGRESS",
        "claimed_at": now.isoformat(),
    }
    try:
        client.put_item(
            TableName=table_name,
            Item=item(FAMILY, record.finding_id, **attributes),
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
        )
        return Claim(outcome=ClaimOutcome.NEW, record=record.model_copy(update={"status": "IN_PROGRESS"}))
    except ClientError as error:
        if not is_condition_failure(error):
            raise
    try:
        response = client.update_item(
            TableName=table_name,
            Key=key(FAMILY, record.finding_id),
            UpdateExpression="SET claim_token = :token, claimed_at = :now ADD attempts :one",
            ConditionExpression="#status = :in_progress AND claimed_at < :stale",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":token": record.claim_token,
                    ":now": now.isoformat(),
                    ":one": 1,
                    ":in_progress": "IN_PROGRESS",
                    ":stale": (now - timeout).isoformat(),
                }
            ),
            ReturnValues="ALL_NEW",
        )
        return Claim(
            outcome=ClaimOutcome.TAKEN_OVER, record=FindingRecord.model_validate(from_item(response["Attributes"]))
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
    current = get_finding(table_name, record.finding_id, client)
    outcome = ClaimOutcome.DONE if current is not None and current.status == "DONE" else ClaimOutcome.BUSY
    return Claim(outcome=outcome, record=current)


def record_step(table_name: str, finding_id: str, claim_token: str, dynamodb: Any = None, **attributes: Any) -> None:
    """Record completed steps of the finding (e.g. ``alerted_at``), if this attempt still holds it."""
    _update_claimed(table_client(dynamodb), table_name, finding_id, claim_token, attributes)


def release_claim(table_name: str, finding_id: str, claim_token: str, dynamodb: Any = None) -> None:
    """Give up this attempt's claim after a failure, so the next delivery takes it over at once."""
    _update_claimed(table_client(dynamodb), table_name, finding_id, claim_token, {"claimed_at": RELEASED})


def complete_finding(
    table_name: str, finding_id: str, claim_token: str, *, now: datetime, dynamodb: Any = None
) -> None:
    """Mark the finding DONE: a later delivery of its event does nothing."""
    _update_claimed(
        table_client(dynamodb), table_name, finding_id, claim_token, {"status": "DONE", "completed_at": now.isoformat()}
    )


def acknowledge(table_name: str, finding_id: str, *, by: str, reason: str, now: datetime, dynamodb: Any = None) -> None:
    """Record that an operator looked at the finding (the freeze it held is acknowledged)."""
    table_client(dynamodb).update_item(
        TableName=table_name,
        Key=key(FAMILY, finding_id),
        UpdateExpression="SET acknowledged_by = :by, acknowledged_at = :now, acknowledge_reason = :reason",
        ConditionExpression=f"attribute_exists({PARTITION_KEY})",
        ExpressionAttributeValues=to_item({":by": by, ":now": now.isoformat(), ":reason": reason}),
    )


def _update_claimed(
    client: Any, table_name: str, finding_id: str, claim_token: str, attributes: dict[str, Any]
) -> None:
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    values = {f":v{index}": value for index, value in enumerate(attributes.values())}
    assignments = ", ".join(f"#a{index} = :v{index}" for index in range(len(attributes)))
    try:
        client.update_item(
            TableName=table_name,
            Key=key(FAMILY, finding_id),
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="claim_token = :token",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values | {":token": claim_token}),
        )
    except ClientError as error:
        if is_condition_failure(error):
            raise ClaimLostError(f"finding {finding_id} was taken over by another attempt") from error
        raise
