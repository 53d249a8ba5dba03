"""The canary's controller: it holds the bake, rolls back on an alarm at once, and records each step.

- **Bake** (from the workflow's ``.waitForTaskToken`` state): the canary becomes BAKING with the
  task token, and the workflow waits until the bake times out (promote) or the token fails.
- **Alarm** ("CloudWatch Alarm State Change" to ALARM, for the stack's canary alarms): in one
  conditional write the canary goes BAKING -> ROLLING_BACK; then the challenger's weight goes to 0
  with UpdateEndpointWeightsAndCapacities, and the task token fails with the alarm's reason, so the
  workflow finishes the rollback. An alarm that comes after promotion began, or after the canary
  ended, changes nothing; nor does the same alarm event again.
- **Heartbeat** (every minute, switched on when a bake begins and off once nothing bakes): for
  the baking canary, any of its alarms already in ALARM (an event that never arrived) rolls it
  back the same way; otherwise the task gets a heartbeat. A controller that stops beating lets the
  bake fail with States.HeartbeatTimeout: the workflow then rolls back, since nobody is watching
  the alarms.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, Literal

from planning import CanarySettings, version_of_alarm
from pydantic import BaseModel, Field
from scaling import deregister_before_update, register_serving_variant

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.state.canary import (
    CanaryRecord,
    CanaryState,
    CanaryStateError,
    baking_canaries,
    get_canary,
    transition,
    unlock_endpoint,
)
from conveyor.state.champion import ChampionPointer, set_champion

ROLLBACK_ERROR = "CanaryAlarm"


class AlarmState(BaseModel):
    value: str
    reason: str = ""
    reason_data: str | None = Field(default=None, alias="reasonData")
    timestamp: datetime


class AlarmDetail(BaseModel):
    alarm_name: str = Field(alias="alarmName")
    state: AlarmState


class AlarmStateChange(BaseModel):
    """EventBridge "CloudWatch Alarm State Change" event (the fields the controller reads)."""

    id: str
    detail: AlarmDetail


class Outcome(BaseModel):
    action: str
    version: int | None = None
    state: str | None = None
    reason: str = ""
    detail: dict[str, Any] = {}


def begin_bake(settings: CanarySettings, version: int, task_token: str, *, now: datetime) -> Outcome:
    # From BAKING too: a retried invocation of the bake state brings a new token.
    record = transition(
        settings.state_table_name,
        version,
        (CanaryState.DEPLOYING, CanaryState.BAKING),
        CanaryState.BAKING,
        now=now,
        task_token=task_token,
        bake_started_at=now,
    )
    switch_heartbeat(settings, enabled=True)
    return Outcome(action="baking", version=version, state=record.state, detail={"alarm_names": record.alarm_names})


def switch_heartbeat(settings: CanarySettings, *, enabled: bool) -> None:
    """Turn the every-minute heartbeat schedule on (a bake began) or off (nothing bakes)."""
    scheduler = aws.client("scheduler")
    schedule = scheduler.get_schedule(Name=settings.heartbeat_schedule_name)
    state = "ENABLED" if enabled else "DISABLED"
    if schedule["State"] == state:
        return
    scheduler.update_schedule(
        Name=settings.heartbeat_schedule_name,
        Description=schedule.get("Description", ""),
        ScheduleExpression=schedule["ScheduleExpression"],
        FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
        Target=schedule["Target"],
        State=state,
    )


def on_alarm(settings: CanarySettings, event: AlarmStateChange, *, now: datetime) -> Outcome:
    """Roll the alarm's canary back, if it is baking; otherwise change nothing and say why."""
    name = event.detail.alarm_name
    version = version_of_alarm(settings, name)
    if version is None or event.detail.state.value != "ALARM":
        return Outcome(action="ignored", reason=f"alarm {name} is {event.detail.state.value}, not a canary's ALARM")
    return roll_back(
        settings,
        version,
        alarm=name,
        reason=event.detail.state.reason,
        reason_data=event.detail.state.reason_data,
        alarm_changed_at=event.detail.state.timestamp,
        now=now,
    )


def roll_back(
    settings: CanarySettings,
    version: int,
    *,
    alarm: str,
    reason: str,
    reason_data: str | None,
    alarm_changed_at: datetime | None,
    now: datetime,
    before: tuple[CanaryState, ...] = (CanaryState.BAKING,),
) -> Outcome:
    """BAKING -> ROLLING_BACK, the challenger's weight to 0, and the bake's task token failed."""
    try:
        record = transition(
            settings.state_table_name,
            version,
            before,
            CanaryState.ROLLING_BACK,
            now=now,
            alarm_name=alarm,
            reason=reason,
            alarm_changed_at=alarm_changed_at,
        )
    except CanaryStateError as refused:
        current = get_canary(settings.state_table_name, version)
        # A retry after a crash between the transition and the weight change finishes the job.
        if current is None or current.state != CanaryState.ROLLING_BACK or current.weight_zero_at is not None:
            return Outcome(
                action="ignored", version=version, state=current.state if current else None, reason=str(refused)
            )
        record = current
    weight_zero_at = _challenger_to_zero(record)
    transition(
        settings.state_table_name,
        version,
        CanaryState.ROLLING_BACK,
        CanaryState.ROLLING_BACK,
        now=weight_zero_at,
        weight_zero_at=weight_zero_at,
    )
    cause = {"alarm": alarm, "reason": reason, "reason_data": json.loads(reason_data) if reason_data else None}
    if record.task_token:
        _fail_task(record.task_token, json.dumps(cause))
    return Outcome(action="rolled_back", version=version, state=CanaryState.ROLLING_BACK, reason=reason, detail=cause)


def _challenger_to_zero(record: CanaryRecord) -> datetime:
    """The challenger's weight to 0 and the champion's to 1, at once; when the endpoint no longer
    runs the challenger (SageMaker rolled its update back), there is nothing to shift."""
    sagemaker = aws.client("sagemaker")
    weights = [{"VariantName": record.challenger_variant, "DesiredWeight": 0.0}]
    if record.champion_variant:
        weights.append({"VariantName": record.champion_variant, "DesiredWeight": 1.0})
    try:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=record.endpoint_name, DesiredWeightsAndCapacities=weights
        )
    except sagemaker.exceptions.ClientError as refused:
        endpoint = sagemaker.describe_endpoint(EndpointName=record.endpoint_name)
        if endpoint["EndpointStatus"] != "InService":
            raise EndpointNotReadyError(f"endpoint {record.endpoint_name} is {endpoint['EndpointStatus']}") from refused
        if record.challenger_variant in {v["VariantName"] for v in endpoint.get("ProductionVariants", [])}:
            raise
    return datetime.now(record.state_changed_at.tzinfo)


def _fail_task(token: str, cause: str) -> None:
    sfn = aws.client("stepfunctions")
    # The bake may have ended already (it timed out into promotion, which the transition above beat).
    with suppress(sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_failure(taskToken=token, error=ROLLBACK_ERROR, cause=cause[:32768])


def heartbeat(settings: CanarySettings, *, now: datetime) -> list[Outcome]:
    """Beat for the baking canary, or roll it back if one of its alarms is in ALARM already."""
    outcomes = []
    cloudwatch = aws.client("cloudwatch")
    baking = baking_canaries(settings.state_table_name)
    if not baking:
        switch_heartbeat(settings, enabled=False)
        # A bake that began between the look and the switch turns it back on.
        if baking_canaries(settings.state_table_name):
            switch_heartbeat(settings, enabled=True)
    for record in baking:
        alarms = cloudwatch.describe_alarms(AlarmNames=record.alarm_names)["MetricAlarms"]
        firing = [alarm for alarm in alarms if alarm["StateValue"] == "ALARM"]
        if firing:
            alarm = firing[0]
            outcomes.append(
                roll_back(
                    settings,
                    record.version,
                    alarm=alarm["AlarmName"],
                    reason=alarm.get("StateReason", ""),
                    reason_data=alarm.get("StateReasonData"),
                    alarm_changed_at=alarm.get("StateUpdatedTimestamp"),
                    now=now,
                )
            )
        elif record.task_token:
            sfn = aws.client("stepfunctions")
            try:
                sfn.send_task_heartbeat(taskToken=record.task_token)
            except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
                continue
            outcomes.append(Outcome(action="heartbeat", version=record.version, state=record.state))
    return outcomes


class EndpointNotReadyError(ConveyorError):
    """The endpoint is still being created or updated; the workflow asks again (its Retry)."""


class CanaryAlarmFiringError(ConveyorError):
    """The bake ended while one of the canary's alarms was in ALARM: it rolls back, not forward."""


class EndpointUpdateFailedError(ConveyorError):
    """The endpoint failed, or SageMaker rolled the update back to another configuration."""


class WorkflowStep(BaseModel):
    """A step the canary workflow asks the controller to take or record."""

    step: Literal[
        "endpoint_ready",
        "arm",
        "promote",
        "promoted",
        "disarm",
        "rollback",
        "rolled_back",
        "abandon",
        "no_endpoint",
        "deregister_scaling",
        "register_scaling",
    ]
    version: int
    package_arn: str
    reason: str = ""
    model_name: str | None = None
    endpoint_config_name: str | None = None
    alarms: list[dict[str, Any]] = []
    alarm_names: list[str] = []
    variant: str | None = None


def record_step(settings: CanarySettings, request: WorkflowStep, *, now: datetime) -> Outcome:
    """Take the step ``request.step`` names; CanaryStateError if another transition came first."""
    return STEPS[request.step](settings, request, now)


def _endpoint_ready(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """The endpoint's readiness; past EndpointUpdateMinutes from the canary's last transition, a failure."""
    try:
        return endpoint_ready(settings, request.endpoint_config_name or "")
    except EndpointNotReadyError as waiting:
        record = get_canary(settings.state_table_name, request.version)
        deadline = (record.state_changed_at if record else now) + timedelta(minutes=settings.endpoint_update_minutes)
        if now > deadline:
            raise EndpointUpdateFailedError(
                f"{waiting}, still, after {settings.endpoint_update_minutes} minutes (EndpointUpdateMinutes)"
            ) from waiting
        raise


def _arm(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    for alarm in request.alarms:
        aws.client("cloudwatch").put_metric_alarm(**alarm)
    names = [alarm["AlarmName"] for alarm in request.alarms]
    return Outcome(action="armed", version=request.version, detail={"alarm_names": names})


def _disarm(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    if request.alarm_names:
        aws.client("cloudwatch").delete_alarms(AlarmNames=request.alarm_names)
    return Outcome(action="disarmed", version=request.version)


def _deregister_scaling(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """Before an UpdateEndpoint to ``endpoint_config_name``: the scalable targets it would break go."""
    outcome = deregister_before_update(settings, request.endpoint_config_name or "")
    return Outcome(action=outcome.action, version=request.version, detail={"variants": outcome.variants})


def _register_scaling(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """Once one variant serves alone: it scales (when EndpointAutoScaling is enabled)."""
    if not request.variant:
        return Outcome(action="no_variant", version=request.version, reason="no variant serves alone")
    outcome = register_serving_variant(settings, request.variant)
    return Outcome(action=outcome.action, version=request.version, detail={"variants": outcome.variants})


def _no_endpoint(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    champion = ChampionPointer(package_arn=request.package_arn, version=request.version, promoted_at=now)
    set_champion(settings.state_table_name, champion)
    return Outcome(action="no_endpoint", version=request.version, reason="EndpointEnabled is false")


def _promote(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """BAKING -> PROMOTING, unless one of the canary's alarms is in ALARM (its event lost or late)."""
    current = get_canary(settings.state_table_name, request.version)
    if current is not None and current.alarm_names:
        alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=current.alarm_names)["MetricAlarms"]
        firing = [alarm["AlarmName"] for alarm in alarms if alarm["StateValue"] == "ALARM"]
        if firing:
            raise CanaryAlarmFiringError(f"the bake ended with alarm(s) in ALARM: {', '.join(firing)}")
    record = transition(settings.state_table_name, request.version, CanaryState.BAKING, CanaryState.PROMOTING, now=now)
    return Outcome(action="promote", version=request.version, state=record.state)


def _promoted(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    table, version = settings.state_table_name, request.version
    # From PROMOTED too: a retried step finds its own transition made.
    before = (CanaryState.PROMOTING, CanaryState.DEPLOYING, CanaryState.PROMOTED)
    record = transition(table, version, before, CanaryState.PROMOTED, now=now)
    champion = ChampionPointer(
        package_arn=request.package_arn,
        version=version,
        model_name=request.model_name,
        variant_name=record.challenger_variant,
        endpoint_config_name=request.endpoint_config_name,
        promoted_at=now,
    )
    set_champion(table, champion)
    unlock_endpoint(table, version)
    return Outcome(action="promoted", version=version, state=record.state)


def _rolled_back(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    table, version = settings.state_table_name, request.version
    before = (CanaryState.ROLLING_BACK, CanaryState.ROLLED_BACK)  # a retried step finds its own transition made
    record = transition(table, version, before, CanaryState.ROLLED_BACK, now=now)
    unlock_endpoint(table, version)
    return Outcome(action="rolled_back", version=version, state=record.state, detail={"description": rejection(record)})


def _workflow_rollback(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """The workflow's own rollback (a missed heartbeat, a freeze or a rejection before promotion,
    or a failed promotion step): the controller's if it already happened, else the same steps."""
    current = get_canary(settings.state_table_name, request.version)
    if current is not None and current.state == CanaryState.ROLLING_BACK and current.weight_zero_at is not None:
        return Outcome(action="rollback", version=request.version, state=current.state, reason=current.reason or "")
    outcome = roll_back(
        settings,
        request.version,
        alarm="",
        reason=request.reason,
        reason_data=None,
        alarm_changed_at=None,
        now=now,
        # A canary whose alarms could not be created rolls back before it bakes; a promotion that
        # failed half-way rolls back too: the challenger may hold all the traffic.
        before=(CanaryState.DEPLOYING, CanaryState.BAKING, CanaryState.PROMOTING),
    )
    return outcome.model_copy(update={"action": "rollback"})


def _abandon(settings: CanarySettings, request: WorkflowStep, now: datetime) -> Outcome:
    """A failed deployment: the canary FAILED and the endpoint free again, if the canary never baked.

    A failure later than that keeps the lock: the endpoint may hold the challenger, and an operator
    must look before the next canary.
    """
    current = get_canary(settings.state_table_name, request.version)
    if current is None or current.state == CanaryState.DEPLOYING:
        if current is not None:
            transition(
                settings.state_table_name,
                request.version,
                CanaryState.DEPLOYING,
                CanaryState.FAILED,
                now=now,
                reason=request.reason,
            )
        unlock_endpoint(settings.state_table_name, request.version)
        return Outcome(action="abandoned", version=request.version, state=CanaryState.FAILED, reason=request.reason)
    return Outcome(action="kept", version=request.version, state=current.state, reason="the endpoint stays locked")


def endpoint_ready(settings: CanarySettings, expected_config: str) -> Outcome:
    """InService (on ``expected_config``, when given), or an error: still updating (retried), or
    failed / rolled back."""
    endpoint = aws.client("sagemaker").describe_endpoint(EndpointName=settings.endpoint_name)
    status, config = endpoint["EndpointStatus"], endpoint.get("EndpointConfigName")
    if status == "Failed":
        raise EndpointUpdateFailedError(
            f"endpoint {settings.endpoint_name} failed: {endpoint.get('FailureReason') or 'no reason given'}"
        )
    if status != "InService":
        raise EndpointNotReadyError(f"endpoint {settings.endpoint_name} is {status}")
    if expected_config and config != expected_config:
        # SageMaker rolls a failed update back to the old configuration, with an empty or later-cleared reason.
        raise EndpointUpdateFailedError(
            f"endpoint {settings.endpoint_name} is InService on {config}, not {expected_config}: SageMaker rolled "
            f"the update back ({endpoint.get('FailureReason') or 'no reason given'})"
        )
    weights = {v["VariantName"]: v.get("CurrentWeight") for v in endpoint.get("ProductionVariants", [])}
    return Outcome(action="in_service", detail={"endpoint_config_name": config, "weights": weights})


STEPS = {
    "endpoint_ready": _endpoint_ready,
    "arm": _arm,
    "promote": _promote,
    "promoted": _promoted,
    "disarm": _disarm,
    "rollback": _workflow_rollback,
    "rolled_back": _rolled_back,
    "abandon": _abandon,
    "no_endpoint": _no_endpoint,
    "deregister_scaling": _deregister_scaling,
    "register_scaling": _register_scaling,
}


def rejection(record: CanaryRecord) -> str:
    """The package's description once its canary rolled back: the alarm, its reason and values."""
    cause = f"alarm {record.alarm_name}: {record.reason}" if record.alarm_name else record.reason or "rolled back"
    return f"Rolled back by the endpoint canary: {cause}"[:1024]
