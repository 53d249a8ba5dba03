"""CloudTrail events as EventBridge delivers them, parsed into small pydantic models.

Two detail types reach the responder: "AWS API Call via CloudTrail" (a CloudTrail record of one
API call, as ``detail``) and "AWS Insight via CloudTrail" (an Insights record). Only the fields
the responder reads are modelled; every other field is ignored, and a field of the wrong type
fails the parse with its path, so a malformed event is ignored with its reason instead of
raising. Field names and shapes follow the CloudTrail record reference ("CloudTrail record
contents", "CloudTrail userIdentity element", "CloudTrail Insights insightDetails element").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

API_CALL = "AWS API Call via CloudTrail"
INSIGHT = "AWS Insight via CloudTrail"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class SessionIssuer(_Model):
    """The role (or user) whose temporary credentials made the call."""

    type: str | None = None
    arn: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    user_name: str | None = Field(default=None, alias="userName")


class SessionContext(_Model):
    session_issuer: SessionIssuer | None = Field(default=None, alias="sessionIssuer")


class UserIdentity(_Model):
    """Who made the call: ``type`` is IAMUser, AssumedRole, Root, AWSService, FederatedUser, ..."""

    type: str | None = None
    principal_id: str | None = Field(default=None, alias="principalId")
    arn: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    user_name: str | None = Field(default=None, alias="userName")
    invoked_by: str | None = Field(default=None, alias="invokedBy")
    session_context: SessionContext | None = Field(default=None, alias="sessionContext")

    @property
    def issuer(self) -> SessionIssuer | None:
        return self.session_context.session_issuer if self.session_context else None


class EventResource(_Model):
    """A resource the record names (``resources``); not every record names any."""

    arn: str | None = Field(default=None, alias="ARN")
    type: str | None = None


class ApiCallDetail(_Model):
    """One CloudTrail record of an API call."""

    event_id: str = Field(alias="eventID", min_length=1)
    event_time: datetime = Field(alias="eventTime")
    event_source: str = Field(alias="eventSource", min_length=1)
    event_name: str = Field(alias="eventName", min_length=1)
    aws_region: str = Field(alias="awsRegion", min_length=1)
    user_identity: UserIdentity = Field(alias="userIdentity")
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    user_agent: str | None = Field(default=None, alias="userAgent")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")
    error_code: str | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")
    read_only: bool | None = Field(default=None, alias="readOnly")
    event_type: str | None = Field(default=None, alias="eventType")
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    resources: list[EventResource] | None = None


class InsightStatistics(_Model):
    baseline: dict[str, Any] | None = None
    insight: dict[str, Any] | None = None


class InsightContext(_Model):
    statistics: InsightStatistics | None = None
    attributions: list[dict[str, Any]] | None = None


class InsightDetails(_Model):
    state: Literal["Start", "End"]
    event_source: str = Field(alias="eventSource", min_length=1)
    event_name: str = Field(alias="eventName", min_length=1)
    insight_type: str = Field(alias="insightType", min_length=1)
    insight_context: InsightContext | None = Field(default=None, alias="insightContext")


class InsightDetail(_Model):
    """One CloudTrail Insights record."""

    event_id: str = Field(alias="eventID", min_length=1)
    event_time: datetime = Field(alias="eventTime")
    aws_region: str = Field(alias="awsRegion", min_length=1)
    recipient_account_id: str | None = Field(default=None, alias="recipientAccountId")
    shared_event_id: str | None = Field(default=None, alias="sharedEventID")
    insight_details: InsightDetails = Field(alias="insightDetails")


class _Envelope(_Model):
    id: str
    source: str
    account: str | None = None
    region: str | None = None
    time: datetime | None = None


class ApiCallEvent(_Envelope):
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    detail: ApiCallDetail


class InsightEvent(_Envelope):
    detail_type: Literal["AWS Insight via CloudTrail"] = Field(alias="detail-type")
    detail: InsightDetail


class Unparsed(_Model):
    """An event that is not a CloudTrail event the responder reads, and why."""

    reason: str
    problem: str


TrailEvent = ApiCallEvent | InsightEvent


def parse(event: Any) -> TrailEvent | Unparsed:
    """The event as a model, or why it cannot be one (never raises)."""
    if not isinstance(event, dict):
        return Unparsed(reason="not_an_object", problem=f"the event is a {type(event).__name__}, not a JSON object")
    detail_type = event.get("detail-type")
    model: type[ApiCallEvent] | type[InsightEvent]
    if detail_type == API_CALL:
        model = ApiCallEvent
    elif detail_type == INSIGHT:
        model = InsightEvent
    else:
        return Unparsed(
            reason="unsupported_detail_type", problem=f"detail-type {detail_type!r} is not a CloudTrail one"
        )
    if not event.get("detail"):
        return Unparsed(reason="empty_detail", problem="the event has no detail")
    try:
        return model.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()[:5]
        )
        return Unparsed(reason="malformed", problem=problems)
