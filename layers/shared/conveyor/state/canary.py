"""Endpoint canaries (``canary`` / ``v<version>``, and the endpoint's lock ``canary`` / ``endpoint``).

One canary record per model package released to the endpoint. Its ``state`` moves only by
conditional writes, each on the state before, so a promotion and a rollback can never both
happen, and a duplicate event finds the transition already made::

    DEPLOYING -> BAKING -> PROMOTING -> PROMOTED
                       \\-> ROLLING_BACK -> ROLLED_BACK
    DEPLOYING -> FAILED            (the endpoint update failed or was rolled back by SageMaker)
    DEPLOYING -> PROMOTED          (the first release: no champion to compare with)

The lock item holds the version whose canary owns the endpoint; a second approved package waits
until the first canary ends (see :func:`lock_endpoint`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor.errors import ConveyorError
from conveyor.state import PARTITION_KEY, SORT_KEY
from conveyor.state.items import from_item, is_condition_failure, item, key, table_client, to_item

FAMILY = "canary"
LOCK = "endpoint"


class CanaryState(StrEnum):
    DEPLOYING = "DEPLOYING"
    BAKING = "BAKING"
    PROMOTING = "PROMOTING"
    PROMOTED = "PROMOTED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"


class CanaryStateError(ConveyorError):
    """A canary was not in the state a transition needs (another transition came first)."""


class EndpointBusyError(ConveyorError):
    """Another package's canary holds the endpoint; this release waits for it to end."""


class CanaryRecord(BaseModel):
    """A canary as the state table holds it."""

    version: int
    package_arn: str
    endpoint_name: str
    state: CanaryState
    state_changed_at: datetime
    challenger_variant: str
    champion_variant: str | None = None
    champion_package_arn: str | None = None
    endpoint_config_name: str | None = None
    alarm_names: list[str] = []
    task_token: str | None = None
    bake_started_at: datetime | None = None
    # Why the canary ended, and when the challenger lost its traffic.
    reason: str | None = None
    alarm_name: str | None = None
    alarm_changed_at: datetime | None = None
    weight_zero_at: datetime | None = None


def sort_key(version: int) -> str:
    return f"v{version:06d}"


def record_key(version: int) -> dict[str, Any]:
    """The canary record's key, in attribute-value form."""
    return key(FAMILY, sort_key(version))


def get_canary(table_name: str, version: int, dynamodb: Any = None) -> CanaryRecord | None:
    found = table_client(dynamodb).get_item(TableName=table_name, Key=record_key(version), ConsistentRead=True)
    return CanaryRecord.model_validate(from_item(found["Item"])) if "Item" in found else None


def latest_canary(table_name: str, dynamodb: Any = None) -> CanaryRecord | None:
    """The canary of the highest package version released to the endpoint, or None before the first."""
    found = table_client(dynamodb).query(
        TableName=table_name,
        KeyConditionExpression=f"{PARTITION_KEY} = :family AND begins_with({SORT_KEY}, :versions)",
        ExpressionAttributeValues=to_item({":family": FAMILY, ":versions": "v"}),
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )
    return CanaryRecord.model_validate(from_item(found["Items"][0])) if found["Items"] else None


def endpoint_holder(table_name: str, dynamodb: Any = None) -> int | None:
    """The package version whose canary holds the endpoint (see :func:`lock_endpoint`), or None."""
    found = table_client(dynamodb).get_item(TableName=table_name, Key=key(FAMILY, LOCK), ConsistentRead=True)
    return int(from_item(found["Item"])["version"]) if "Item" in found else None


def baking_canaries(table_name: str, dynamodb: Any = None) -> list[CanaryRecord]:
    """The canary holding the endpoint, if it is baking (at most one)."""
    version = endpoint_holder(table_name, dynamodb)
    if version is None:
        return []
    record = get_canary(table_name, version, dynamodb)
    return [record] if record is not None and record.state == CanaryState.BAKING else []


def lock_endpoint(table_name: str, version: int, *, now: datetime, dynamodb: Any = None) -> None:
    """Take the endpoint for ``version``'s canary (again, if it holds it already).

    Raises EndpointBusyError while another version holds it: the workflow waits and retries, so
    approved packages reach the endpoint one at a time, in the order they get the lock.
    """
    try:
        table_client(dynamodb).put_item(
            TableName=table_name,
            Item=item(FAMILY, LOCK, version=version, locked_at=now.isoformat()),
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY}) OR version = :version",
            ExpressionAttributeValues=to_item({":version": version}),
        )
    except ClientError as error:
        if is_condition_failure(error):
            raise EndpointBusyError(f"another package's canary holds the endpoint; package {version} waits") from error
        raise


def unlock_endpoint(table_name: str, version: int, dynamodb: Any = None) -> None:
    """Give the endpoint up (nothing happens if ``version`` does not hold it)."""
    try:
        table_client(dynamodb).delete_item(
            TableName=table_name,
            Key=key(FAMILY, LOCK),
            ConditionExpression="version = :version",
            ExpressionAttributeValues=to_item({":version": version}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def start_canary(table_name: str, record: CanaryRecord, dynamodb: Any = None) -> CanaryRecord:
    """Record the canary as DEPLOYING; a retried start of the same canary returns the record as it is."""
    try:
        table_client(dynamodb).put_item(
            TableName=table_name,
            Item=item(FAMILY, sort_key(record.version), **record.model_dump(mode="json", exclude_none=True)),
            ConditionExpression=f"attribute_not_exists({PARTITION_KEY})",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        existing = get_canary(table_name, record.version, dynamodb)
        if existing is None:
            raise
        return existing
    return record


def transition(
    table_name: str,
    version: int,
    before: CanaryState | tuple[CanaryState, ...],
    after: CanaryState,
    *,
    now: datetime,
    dynamodb: Any = None,
    **attributes: Any,
) -> CanaryRecord:
    """Move the canary from ``before`` to ``after`` (setting ``attributes``), or raise CanaryStateError."""
    allowed = (before,) if isinstance(before, CanaryState) else before
    values = {"state": after.value, "state_changed_at": now.isoformat()} | {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in attributes.items()
        if value is not None
    }
    names = {f"#a{index}": name for index, name in enumerate(values)}
    placeholders = {f":b{index}": state.value for index, state in enumerate(allowed)}
    try:
        response = table_client(dynamodb).update_item(
            TableName=table_name,
            Key=record_key(version),
            UpdateExpression="SET " + ", ".join(f"{alias} = :{alias[1:]}" for alias in names),
            ConditionExpression=f"#state IN ({', '.join(placeholders)})",
            ExpressionAttributeNames=names | {"#state": "state"},
            ExpressionAttributeValues=to_item(
                {f":{alias[1:]}": values[name] for alias, name in names.items()} | placeholders
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            current = get_canary(table_name, version, dynamodb)
            found = current.state if current else "missing"
            raise CanaryStateError(
                f"canary of package {version} is {found}, not {' or '.join(allowed)}: it cannot become {after}"
            ) from error
        raise
    return CanaryRecord.model_validate(from_item(response["Attributes"]))
