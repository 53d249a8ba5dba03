"""The release freeze (``control`` / ``freeze``): a flag that ingestion and every workflow check.

The retraining workflow reads the same item directly (its ``Check the release freeze`` state);
template.yaml gives it this key through DefinitionSubstitutions, and a test keeps the two equal.

The item's attributes:

- ``frozen``: the flag the workflows read;
- ``finding_ids``: every security finding that froze releases and that no operator has
  acknowledged yet (a string set; DynamoDB drops it once empty);
- ``finding_id``, ``reason``, ``principal``, ``frozen_at``: the latest finding that froze them,
  why, who did what it found, and when releases were frozen for it;
- ``lifted_by``, ``lifted_at``, ``lift_reason``: who lifted the last freeze, when and why
  (removed when releases are frozen again);
- ``changed_at``: the last change of the item.

Several findings can freeze releases before anyone looks. Each must be acknowledged, one at a
time, by the operator who looked at it; releases stay frozen until the last one is, so a freeze
lifted after reading one alert cannot release past another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor.errors import ConveyorError
from conveyor.state.items import from_item, key, table_client, to_item

FREEZE_KEY = key("control", "freeze")
# The attribute the workflow's "Are releases frozen" choice reads.
FROZEN = "frozen"


class NotFrozenError(ConveyorError):
    """An operator asked to lift a freeze, but releases are not frozen."""


class FindingNotFreezingError(ConveyorError):
    """An operator named a finding that is not one of those holding the freeze."""


class FrozenByFindingsError(ConveyorError):
    """An operator asked to lift a freeze by hand, but security findings hold it: each is acknowledged."""


class Freeze(BaseModel):
    """The freeze item, as plain values."""

    frozen: bool = False
    finding_ids: list[str] = []
    finding_id: str | None = None
    reason: str | None = None
    principal: str | None = None
    frozen_at: datetime | None = None
    lifted_by: str | None = None
    lifted_at: datetime | None = None
    lift_reason: str | None = None
    changed_at: datetime | None = None


def is_frozen(table_name: str, dynamodb: Any = None) -> bool:
    """Whether releases are frozen (a security finding froze them and no operator lifted it yet)."""
    item = table_client(dynamodb).get_item(TableName=table_name, Key=FREEZE_KEY, ConsistentRead=True).get("Item")
    return bool(item and from_item(item).get(FROZEN))


def freeze_state(table_name: str, dynamodb: Any = None) -> Freeze:
    """The freeze item (a stack never frozen reads as not frozen)."""
    item = table_client(dynamodb).get_item(TableName=table_name, Key=FREEZE_KEY, ConsistentRead=True).get("Item", {})
    plain = from_item(item)
    plain["finding_ids"] = sorted(plain.get("finding_ids", set()))
    return Freeze.model_validate(plain)


def set_frozen(
    table_name: str, *, frozen: bool, reason: str, now: datetime, principal: str = "operator", dynamodb: Any = None
) -> None:
    """Freeze releases by hand, or lift every freeze at once, recording why, by whom and when.

    Security findings freeze through :func:`freeze_for_finding`; this is the operator's switch
    (``conveyor freeze``) and the tests'. Lifting with it drops the findings that hold the freeze
    unacknowledged: an operator lifts a freeze by hand with :func:`lift_hand_freeze` instead.
    """
    stamp = now.isoformat()
    attributes: dict[str, Any] = {FROZEN: frozen, "changed_at": stamp}
    if frozen:
        attributes |= {"reason": reason, "principal": principal, "frozen_at": stamp}
    else:
        attributes |= {"lifted_by": principal, "lifted_at": stamp, "lift_reason": reason}
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    assignments = ", ".join(f"{alias} = :{alias[1:]}" for alias in names)
    # An update, not a put: freezing by hand keeps the findings that hold the freeze; lifting all drops them.
    table_client(dynamodb).update_item(
        TableName=table_name,
        Key=FREEZE_KEY,
        UpdateExpression=f"SET {assignments}" + ("" if frozen else " REMOVE finding_ids"),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":{alias[1:]}": attributes[name] for alias, name in names.items()}),
    )


def freeze_for_finding(
    table_name: str, *, finding_id: str, reason: str, principal: str, now: datetime, dynamodb: Any = None
) -> None:
    """Freeze releases for a finding; freezing again for the same finding changes nothing but the time."""
    table_client(dynamodb).update_item(
        TableName=table_name,
        Key=FREEZE_KEY,
        UpdateExpression=(
            "SET #frozen = :true, finding_id = :id, reason = :reason, principal = :principal, "
            "frozen_at = :now, changed_at = :now ADD finding_ids :ids REMOVE lifted_by, lifted_at, lift_reason"
        ),
        ExpressionAttributeNames={"#frozen": FROZEN},
        ExpressionAttributeValues=to_item(
            {
                ":true": True,
                ":id": finding_id,
                ":ids": {finding_id},
                ":reason": reason,
                ":principal": principal,
                ":now": now.isoformat(),
            }
        ),
    )


def acknowledge_finding(
    table_name: str, *, finding_id: str, lifted_by: str, reason: str, now: datetime, dynamodb: Any = None
) -> Freeze:
    """Acknowledge one finding that holds the freeze; lift the freeze once none is left.

    Raises NotFrozenError when releases are not frozen, and FindingNotFreezingError when the
    finding is not one of those holding the freeze. Returns the freeze as it is afterwards.
    """
    client = table_client(dynamodb)
    current = freeze_state(table_name, client)
    if not current.frozen:
        raise NotFrozenError("releases are not frozen: there is nothing to lift")
    if finding_id not in current.finding_ids:
        holding = ", ".join(current.finding_ids) or "none (frozen by hand: lift it with `conveyor unfreeze --reason`)"
        raise FindingNotFreezingError(
            f"finding {finding_id} does not hold the freeze; the findings holding it: {holding}"
        )
    try:
        client.update_item(
            TableName=table_name,
            Key=FREEZE_KEY,
            UpdateExpression="DELETE finding_ids :ids SET changed_at = :now",
            ConditionExpression="#frozen = :true AND contains(finding_ids, :id)",
            ExpressionAttributeNames={"#frozen": FROZEN},
            ExpressionAttributeValues=to_item(
                {":ids": {finding_id}, ":id": finding_id, ":true": True, ":now": now.isoformat()}
            ),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise FindingNotFreezingError(f"finding {finding_id} was acknowledged meanwhile by someone else") from error
    _lift_if_none_left(client, table_name, lifted_by=lifted_by, reason=reason, now=now)
    return freeze_state(table_name, client)


def lift_hand_freeze(table_name: str, *, lifted_by: str, reason: str, now: datetime, dynamodb: Any = None) -> Freeze:
    """Lift a freeze set by hand (:func:`set_frozen`), provided no finding holds it.

    Unlike ``set_frozen(frozen=False)``, this never lifts past a finding: each finding is
    acknowledged on its own (:func:`acknowledge_finding`), and one that freezes between the read
    and the write keeps the freeze (the write is conditional). Raises NotFrozenError when releases
    are not frozen, FrozenByFindingsError when findings hold the freeze. Returns the freeze after.
    """
    client = table_client(dynamodb)
    if not _lift_if_none_left(client, table_name, lifted_by=lifted_by, reason=reason, now=now):
        current = freeze_state(table_name, client)
        if not current.frozen:
            raise NotFrozenError("releases are not frozen: there is nothing to lift")
        raise FrozenByFindingsError(
            f"findings hold the freeze: {', '.join(current.finding_ids)}; acknowledge each by its id "
            "(`conveyor unfreeze --finding ID`, or the unfreeze function)"
        )
    return freeze_state(table_name, client)


def _lift_if_none_left(client: Any, table_name: str, *, lifted_by: str, reason: str, now: datetime) -> bool:
    """Lift the freeze if no finding holds it (a finding that froze meanwhile keeps it); whether it did."""
    try:
        client.update_item(
            TableName=table_name,
            Key=FREEZE_KEY,
            UpdateExpression=(
                "SET #frozen = :false, lifted_by = :by, lifted_at = :now, lift_reason = :reason, changed_at = :now"
            ),
            ConditionExpression="#frozen = :true AND attribute_not_exists(finding_ids)",
            ExpressionAttributeNames={"#frozen": FROZEN},
            ExpressionAttributeValues=to_item(
                {":false": False, ":true": True, ":by": lifted_by, ":now": now.isoformat(), ":reason": reason}
            ),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True
