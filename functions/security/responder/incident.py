"""The response to one CloudTrail event: claim the finding, undo what is safe, freeze releases,
alert, import into Security Hub, and mark the finding done, each step once.

The finding is claimed in the state table before anything is done (:mod:`conveyor.state.findings`),
so the same event delivered any number of times gives one finding, one remediation and one alert.
The stack key comes first: the state table and the topic are encrypted with it, so while it is
disabled or pending deletion nothing can be claimed, recorded or sent; an unusable key is made
usable again before the claim (a duplicate finds it usable and changes nothing).
Each completed step is recorded on the finding: an attempt that takes over the claim of one that
crashed skips what that one finished. A failure releases the claim and raises, so Lambda's retry
of the event takes it over at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from alerting import message, subject
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel
from remedies import KEY_REMEDIES, Remedy, apply, command
from security_hub import asff
from stack_facts import ResponderSettings
from tampering import Finding, classify
from trail_events import Unparsed, parse
from watched_calls import Ignored

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.state.control import freeze_for_finding
from conveyor.state.findings import (
    ClaimOutcome,
    FindingRecord,
    claim_finding,
    complete_finding,
    record_step,
    release_claim,
)

logger = Logger()
# A claim older than this is taken to belong to an attempt that crashed (the function's timeout is 30 s).
CLAIM_TIMEOUT = timedelta(minutes=2)


class FindingInProgressError(ConveyorError):
    """Another attempt is handling the same finding now; this delivery is retried later."""


class Outcome(BaseModel):
    """What the responder did with one event (the handler's reply, logged and counted)."""

    status: Literal["ignored", "duplicate", "responded"]
    reason: str | None = None
    detail: str | None = None
    finding_id: str | None = None
    kind: str | None = None
    severity: str | None = None
    remediated: list[str] = []
    manual_steps: list[str] = []
    frozen: bool = False
    imported: bool = False
    alerted: bool = False


def respond(settings: ResponderSettings, event: Any, *, now: datetime) -> Outcome:
    """Respond to one event as EventBridge delivered it."""
    parsed = parse(event)
    if isinstance(parsed, Unparsed):
        return Outcome(status="ignored", reason=parsed.reason, detail=parsed.problem)
    verdict = classify(parsed, settings)
    if isinstance(verdict, Ignored):
        return Outcome(status="ignored", reason=verdict.reason, detail=verdict.detail)
    restored_first = _restore_unusable_key(verdict, settings)
    token = uuid.uuid4().hex
    claim = claim_finding(settings.state_table_name, _record(verdict, token, now), now=now, timeout=CLAIM_TIMEOUT)
    if claim.outcome is ClaimOutcome.DONE:
        return Outcome(status="duplicate", finding_id=verdict.finding_id, kind=verdict.kind)
    if claim.outcome is ClaimOutcome.BUSY or claim.record is None:
        raise FindingInProgressError(f"finding {verdict.finding_id} is being handled by another attempt; retry later")
    try:
        return _carry_out(settings, verdict, claim.record, token, now, restored_first=restored_first)
    except Exception:
        release_claim(settings.state_table_name, verdict.finding_id, token)
        raise


def _record(finding: Finding, token: str, now: datetime) -> FindingRecord:
    return FindingRecord(
        finding_id=finding.finding_id,
        status="IN_PROGRESS",
        claim_token=token,
        claimed_at=now,
        kind=finding.kind,
        severity=finding.severity,
        title=finding.title,
        summary=finding.what,
        event_name=finding.event_name,
        event_source=finding.event_source,
        event_time=finding.event_time,
        resource_type=finding.resource_type,
        resource=finding.resource_id,
        principal=finding.actor.arn,
        principal_type=finding.actor.type,
        source_ip_address=finding.actor.source_ip_address,
        user_agent=finding.actor.user_agent,
        region=finding.region,
        succeeded=finding.succeeded,
        freezes=finding.freezes,
    )


def _restore_unusable_key(finding: Finding, settings: ResponderSettings) -> list[Remedy]:
    """The key's remedies, applied now if the key is disabled or pending deletion; those applied."""
    remedies = [remedy for remedy in finding.remedies if remedy in KEY_REMEDIES]
    if not remedies:
        return []
    state = aws.client("kms").describe_key(KeyId=settings.key_id)["KeyMetadata"]["KeyState"]
    if state not in ("Disabled", "PendingDeletion"):
        return []
    if state == "PendingDeletion" and Remedy.CANCEL_KEY_DELETION not in remedies:
        remedies = [Remedy.CANCEL_KEY_DELETION, *remedies]  # EnableKey fails on a key pending deletion
    for remedy in remedies:
        apply(remedy, settings, finding.resource_name)
    return remedies


def remediate(
    finding: Finding, settings: ResponderSettings, applied: list[Remedy] | None = None
) -> tuple[list[str], list[str]]:
    """Apply the finding's remedies, but those ``applied`` already: (what was undone, what is left to do by hand).

    A remedy that fails does not stop the others; its CLI call joins what is left to do.
    """
    done: list[str] = [remedy.value for remedy in applied or []]
    manual = list(finding.manual_steps)
    for remedy in finding.remedies:
        if remedy in (applied or []):
            continue
        try:
            apply(remedy, settings, finding.resource_name)
        except (ClientError, BotoCoreError) as error:
            manual.append(f"{command(remedy, settings, finding.resource_name)}  # the responder failed: {error}")
        else:
            done.append(remedy.value)
    return done, manual


def _carry_out(
    settings: ResponderSettings,
    finding: Finding,
    record: FindingRecord,
    token: str,
    now: datetime,
    *,
    restored_first: list[Remedy],
) -> Outcome:
    table = settings.state_table_name

    def step(**attributes: Any) -> None:
        record_step(table, finding.finding_id, token, **attributes)

    if record.remediated is None or record.manual_steps is None:
        remediated, manual = remediate(finding, settings, restored_first)
        step(remediated=remediated, manual_steps=manual)
    else:
        remediated, manual = record.remediated, record.manual_steps
    if finding.freezes and record.frozen_at is None:
        freeze_for_finding(
            table, finding_id=finding.finding_id, reason=finding.title, principal=finding.actor.arn, now=now
        )
        step(frozen_at=now.isoformat())
    if record.alerted_at is None:
        aws.client("sns").publish(
            TopicArn=settings.notification_topic_arn,
            Subject=subject(finding, settings),
            Message=message(
                finding,
                settings,
                remediated=remediated,
                manual_steps=manual,
                frozen=finding.freezes,
                unfreeze_function_name=settings.unfreeze_function_name,
            ),
        )
        step(alerted_at=now.isoformat())
    imported = record.imported_at is not None
    if settings.security_hub == "enabled" and not imported:
        imported = _import(finding, settings, manual, now)
        if imported:
            step(imported_at=now.isoformat())
    complete_finding(table, finding.finding_id, token, now=now)
    return Outcome(
        status="responded",
        finding_id=finding.finding_id,
        kind=finding.kind,
        severity=finding.severity,
        remediated=remediated,
        manual_steps=manual,
        frozen=finding.freezes,
        imported=imported,
        alerted=True,
    )


def _import(finding: Finding, settings: ResponderSettings, manual: list[str], now: datetime) -> bool:
    """Import the finding into Security Hub; whether it took it.

    A refusal is logged, not raised: the alert is out and the finding recorded, and a hub that is
    not enabled in the account must not make EventBridge deliver the event again and again.
    """
    try:
        response = aws.client("securityhub").batch_import_findings(
            Findings=[asff(finding, settings, manual_steps=manual, now=now)]
        )
    except (ClientError, BotoCoreError) as error:
        logger.error("Security Hub import failed", finding_id=finding.finding_id, error=str(error))
        return False
    if response.get("FailedCount"):
        refused = response["FailedFindings"]
        logger.error("Security Hub refused the finding", finding_id=finding.finding_id, refused=refused)
        return False
    return True
