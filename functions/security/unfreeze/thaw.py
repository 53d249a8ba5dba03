"""Unfreezing releases: an operator acknowledges a finding that froze them.

Each finding that froze releases is acknowledged on its own, by name, with the reason and the
operator's name; the freeze lifts with the last one (see :mod:`conveyor.state.control` for why
one acknowledgement does not lift them all). Every acknowledgement is recorded on the finding
and announced on the notification topic.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from conveyor import aws
from conveyor.settings import Settings
from conveyor.state.control import Freeze, acknowledge_finding
from conveyor.state.findings import acknowledge


class UnfreezeSettings(Settings):
    notification_topic_arn: str


class UnfreezeRequest(BaseModel):
    """What the operator sends: ``{"finding_id": ..., "reason": ..., "lifted_by": ...}``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    finding_id: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=2048)
    lifted_by: str = Field(min_length=1, max_length=256)


class UnfreezeReport(BaseModel):
    """The answer: whether releases are frozen still, and by which findings."""

    finding_id: str
    acknowledged_by: str
    acknowledged_at: datetime
    frozen: bool
    still_frozen_by: list[str]


def unfreeze(settings: UnfreezeSettings, request: UnfreezeRequest, *, now: datetime) -> UnfreezeReport:
    """Acknowledge the finding; lift the freeze if it was the last one holding it; notify.

    Raises NotFrozenError or FindingNotFreezingError (conveyor.state.control), changing nothing.
    """
    freeze = acknowledge_finding(
        settings.state_table_name,
        finding_id=request.finding_id,
        lifted_by=request.lifted_by,
        reason=request.reason,
        now=now,
    )
    acknowledge(settings.state_table_name, request.finding_id, by=request.lifted_by, reason=request.reason, now=now)
    aws.client("sns").publish(
        TopicArn=settings.notification_topic_arn,
        Subject=_subject(settings, freeze),
        Message=_message(settings, request, freeze, now),
    )
    return UnfreezeReport(
        finding_id=request.finding_id,
        acknowledged_by=request.lifted_by,
        acknowledged_at=now,
        frozen=freeze.frozen,
        still_frozen_by=freeze.finding_ids,
    )


def _subject(settings: UnfreezeSettings, freeze: Freeze) -> str:
    state = "still frozen" if freeze.frozen else "unfrozen"
    return f"{settings.project_name} {settings.stage}: releases {state}"


def _message(settings: UnfreezeSettings, request: UnfreezeRequest, freeze: Freeze, now: datetime) -> str:
    lines = [
        f"{request.lifted_by} acknowledged security finding {request.finding_id} on {settings.project_name} "
        f"{settings.stage} at {now.isoformat()}.",
        f"Reason: {request.reason}",
    ]
    if freeze.frozen:
        lines.append(f"Releases stay frozen: findings not yet acknowledged: {', '.join(freeze.finding_ids)}.")
    else:
        lines.append("Releases are no longer frozen: the next upload or schedule may start a run.")
    return "\n".join(lines)
