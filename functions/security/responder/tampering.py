"""Which CloudTrail events are tampering with the stack: one decision per event, with its reason.

An API call is a finding when it is one of the watched calls (``RULES``), names one of the
stack's resources, weakens it, and was made by someone other than the stack itself. Everything
else is ignored with a reason (which the handler logs and counts), never raised:

- another account or Region than the stack's (IAM, a global service, logs in us-east-1);
- a read-only call, or a record that is not an API call;
- a call no rule watches, or a watched call that leaves the setting as strict as before;
- the stack's own roles doing their work: roles under the stack's IAM path (``STACK_ROLE_PATH``);
- a deployment: calls CloudFormation makes (``invokedBy`` or ``sourceIPAddress`` is
  ``cloudformation.amazonaws.com``). A ``sam deploy`` must not freeze its own stack. The
  limitation: anyone allowed to deploy the stack can change it unseen, so restrict who may.

A failed call (``errorCode`` present) that would have been a finding is a finding of its own
kind: it is recorded and alerted, because someone tried, but it remediates nothing (nothing
changed) and freezes nothing: the guard held, and letting any principal without rights freeze
the release pipeline by making calls that fail would hand it a switch it should not have.

An Insights event ("AWS Insight via CloudTrail") that starts on one of the stack's services is
recorded and alerted, and freezes nothing either: Insights measure the account's call rate per
API, not changes to the stack's resources, so they are a reason to look, not proof of tampering.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from remedies import Remedy
from stack_facts import ResponderSettings
from trail_events import ApiCallDetail, ApiCallEvent, InsightEvent, TrailEvent
from watched_calls import RULES, Change, Ignored, ServiceRule

Severity = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
DEPLOYER = "cloudformation.amazonaws.com"
# Global services log their calls in us-east-1 whatever the stack's Region.
GLOBAL_SERVICES = frozenset({"iam.amazonaws.com", "sts.amazonaws.com"})
# The services the stack runs on, for Insights events.
STACK_SERVICES = frozenset(
    f"{service}.amazonaws.com"
    for service in (
        "s3", "kms", "cloudtrail", "iam", "sts", "sagemaker", "greengrass", "iot", "dynamodb", "lambda",
        "states", "firehose", "sns", "sqs", "events", "scheduler", "logs", "cloudwatch",
    )
)  # fmt: skip


class Actor(BaseModel):
    """Who made the call, and from where."""

    type: str
    arn: str
    issuer_arn: str | None = None
    account_id: str | None = None
    invoked_by: str | None = None
    source_ip_address: str | None = None
    user_agent: str | None = None

    @property
    def description(self) -> str:
        if self.issuer_arn:
            return f"{self.type} {self.arn} (role {self.issuer_arn})"
        return f"{self.type} {self.arn}"


class Finding(BaseModel):
    """Tampering found in one CloudTrail event (its id is the event's)."""

    finding_id: str
    kind: str
    title: str
    what: str
    severity: Severity
    event_source: str
    event_name: str
    event_time: datetime
    region: str
    resource_type: str
    resource_id: str
    resource_name: str
    actor: Actor
    succeeded: bool
    error_code: str | None = None
    remedies: list[Remedy] = []
    manual_steps: list[str] = []
    freezes: bool


def classify(event: TrailEvent, settings: ResponderSettings) -> Finding | Ignored:
    """The finding in ``event``, or why there is none."""
    if isinstance(event, InsightEvent):
        return _classify_insight(event, settings)
    return _classify_call(event, settings)


def _foreign(
    envelope_account: str | None, recipient: str | None, region: str, source: str, settings: ResponderSettings
) -> Ignored | None:
    accounts = {account for account in (envelope_account, recipient) if account}
    if not accounts:
        return Ignored(reason="unknown_account", detail="the event names no account")
    if accounts != {settings.account_id}:
        return Ignored(reason="foreign_account", detail=f"account {', '.join(sorted(accounts))}")
    if region != settings.region and not (source in GLOBAL_SERVICES and region == "us-east-1"):
        return Ignored(reason="foreign_region", detail=f"Region {region}")
    return None


def _actor(detail: ApiCallDetail) -> Actor:
    identity = detail.user_identity
    issuer = identity.issuer
    return Actor(
        type=identity.type or "Unknown",
        arn=identity.arn or identity.invoked_by or identity.principal_id or "unknown",
        issuer_arn=issuer.arn if issuer else None,
        account_id=identity.account_id,
        invoked_by=identity.invoked_by,
        source_ip_address=detail.source_ip_address,
        user_agent=detail.user_agent,
    )


def is_stack_role(actor: Actor, settings: ResponderSettings) -> bool:
    """Whether the caller is one of the stack's own roles: directly under its IAM path, and one it names
    (anyone allowed iam:CreateRole could put a role of their own under the path).
    """
    if actor.type != "AssumedRole" or not actor.issuer_arn:
        return False
    prefix = settings.stack_role_arn_prefix
    name = actor.issuer_arn.removeprefix(prefix)
    return actor.issuer_arn.startswith(prefix) and name in settings.stack_role_names


def _is_deployment(detail: ApiCallDetail) -> bool:
    return DEPLOYER in (detail.user_identity.invoked_by, detail.source_ip_address)


def _screen(event: ApiCallEvent, settings: ResponderSettings) -> Ignored | ServiceRule:
    """The rule that watches the call, or why the call needs none."""
    detail = event.detail
    foreign = _foreign(event.account, detail.recipient_account_id, detail.aws_region, detail.event_source, settings)
    if foreign:
        return foreign
    if detail.read_only:
        return Ignored(reason="read_only", detail=f"{detail.event_name} changes nothing")
    if detail.event_type not in (None, "AwsApiCall"):
        return Ignored(reason="not_an_api_call", detail=f"eventType {detail.event_type}")
    rule = RULES.get((detail.event_source, detail.event_name))
    if rule is None:
        return Ignored(reason="unwatched_call", detail=f"{detail.event_source} {detail.event_name}")
    return rule


def _classify_call(event: ApiCallEvent, settings: ResponderSettings) -> Finding | Ignored:
    detail = event.detail
    rule = _screen(event, settings)
    if isinstance(rule, Ignored):
        return rule
    change = rule(detail, settings)
    if isinstance(change, Ignored):
        return change
    actor = _actor(detail)
    if is_stack_role(actor, settings):
        return Ignored(reason="stack_role", detail=f"{detail.event_name} by the stack's own {actor.issuer_arn}")
    if _is_deployment(detail):
        return Ignored(reason="deployment", detail=f"{detail.event_name} by CloudFormation for {actor.arn}")
    return _finding(detail, actor, change)


def _finding(detail: ApiCallDetail, actor: Actor, change: Change) -> Finding:
    succeeded = detail.error_code is None
    what = change.what if succeeded else f"tried to {change.what_attempted} and failed with {detail.error_code}"
    return Finding(
        finding_id=detail.event_id,
        kind=change.kind if succeeded else f"{change.kind}-attempt",
        title=change.title if succeeded else f"Attempt: {change.title}",
        what=what,
        severity=change.severity if succeeded else "LOW",
        event_source=detail.event_source,
        event_name=detail.event_name,
        event_time=detail.event_time,
        region=detail.aws_region,
        resource_type=change.resource_type,
        resource_id=change.resource_id,
        resource_name=change.resource_name,
        actor=actor,
        succeeded=succeeded,
        error_code=detail.error_code,
        remedies=change.remedies if succeeded else [],
        manual_steps=change.manual_steps if succeeded else [],
        freezes=succeeded,
    )


def _insight_actor(event: InsightEvent) -> Actor:
    context = event.detail.insight_details.insight_context
    top: list[str] = []
    for attribution in (context.attributions if context else None) or []:
        if isinstance(attribution, dict) and attribution.get("attribute") == "userIdentityArn":
            insight = attribution.get("insight")
            top += [entry["value"] for entry in insight or [] if isinstance(entry, dict) and "value" in entry]
    return Actor(type="Insight", arn=", ".join(str(value) for value in top) or "not attributed")


def _classify_insight(event: InsightEvent, settings: ResponderSettings) -> Finding | Ignored:
    detail = event.detail
    insight = detail.insight_details
    foreign = _foreign(event.account, detail.recipient_account_id, detail.aws_region, insight.event_source, settings)
    if foreign:
        return foreign
    if insight.event_source not in STACK_SERVICES:
        return Ignored(reason="foreign_service", detail=f"Insights on {insight.event_source}")
    if insight.state != "Start":
        return Ignored(reason="insight_ended", detail=f"the Insights event {detail.shared_event_id} ended")
    account = f"AWS::::Account:{settings.account_id}"
    return Finding(
        finding_id=detail.event_id,
        kind="insight",
        title=f"Unusual {insight.insight_type} on {insight.event_source} {insight.event_name}",
        what=f"CloudTrail Insights saw an unusual {insight.insight_type} of {insight.event_name} on "
        f"{insight.event_source} in account {settings.account_id}",
        severity="MEDIUM",
        event_source=insight.event_source,
        event_name=insight.event_name,
        event_time=detail.event_time,
        region=detail.aws_region,
        resource_type="AwsAccount",
        resource_id=account,
        resource_name=settings.account_id,
        actor=_insight_actor(event),
        succeeded=True,
        freezes=False,
    )


__all__ = ["Actor", "Finding", "Ignored", "classify", "is_stack_role"]
