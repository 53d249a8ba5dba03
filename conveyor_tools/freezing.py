"""Freezing and unfreezing releases by hand: what ``conveyor freeze`` and ``conveyor unfreeze`` do.

The freeze is one item of the state table (:mod:`conveyor.state.control`), whoever sets it. A
freeze by hand is that item with the operator's ARN (from STS, as ``conveyor approve`` records
who decided) as ``principal``, the reason given, and when; ingestion and every workflow then
refuse as they do for a security finding.

A finding is acknowledged through the stack's unfreeze function, never by a write from here:
the function records the acknowledgement on the finding and the freeze, and announces it on the
notification topic, and an operator invoking it through ``aws lambda invoke`` gets the same. A
freeze set by hand has no finding to acknowledge; :func:`lift` lifts it, and only while no
finding holds it, so lifting by hand never releases past an alert nobody has read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from conveyor.state.control import (
    Freeze,
    FrozenByFindingsError,
    NotFrozenError,
    freeze_state,
    lift_hand_freeze,
    set_frozen,
)
from conveyor_tools.stack import Stack, caller_arn

UNFREEZE_FUNCTION = "UnfreezeFunctionName"
"""The output naming the unfreeze function."""


class FreezeError(Exception):
    """The freeze cannot change as asked (named, with why and what to do)."""


def _required(reason: str, what: str) -> str:
    if not reason.strip():
        raise FreezeError(f"a reason is required: it is recorded on the freeze as why releases were {what}")
    return reason.strip()


def freeze(stack: Stack, reason: str, *, now: datetime) -> Freeze:
    """Freeze releases, recording the caller, ``reason`` and ``now``; the freeze as it is afterwards.

    Findings already holding the freeze keep holding it: each must still be acknowledged.
    """
    why = _required(reason, "frozen")
    table, dynamodb = stack.outputs["StateTableName"], stack.client("dynamodb")
    set_frozen(table, frozen=True, reason=why, now=now, principal=caller_arn(stack), dynamodb=dynamodb)
    return freeze_state(table, dynamodb)


def lift(stack: Stack, reason: str, *, now: datetime) -> Freeze:
    """Lift a freeze set by hand, recording the caller, ``reason`` and ``now``; the freeze afterwards.

    Raises FreezeError when releases are not frozen, or when findings hold the freeze (naming them).
    """
    why = _required(reason, "unfrozen")
    try:
        return lift_hand_freeze(
            stack.outputs["StateTableName"],
            lifted_by=caller_arn(stack),
            reason=why,
            now=now,
            dynamodb=stack.client("dynamodb"),
        )
    except (NotFrozenError, FrozenByFindingsError) as error:
        raise FreezeError(str(error)) from error


def acknowledge(stack: Stack, finding_id: str, reason: str) -> dict[str, Any]:
    """Acknowledge ``finding_id`` through the stack's unfreeze function, as the caller; its report.

    Raises FreezeError with the function's own message when it refuses (the finding does not hold
    the freeze, releases are not frozen, the request is malformed).
    """
    why = _required(reason, "unfrozen")
    request = {"finding_id": finding_id, "reason": why, "lifted_by": caller_arn(stack)}
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs[UNFREEZE_FUNCTION], Payload=json.dumps(request).encode()
    )
    answer: dict[str, Any] = json.loads(response["Payload"].read() or b"null") or {}
    if "FunctionError" in response:
        error = answer.get("errorType", "error")
        message = answer.get("errorMessage", "the unfreeze function failed without a message")
        raise FreezeError(f"the unfreeze function refused ({error}): {message}")
    return answer
