"""The canary controller's decisions at their boundaries: which alarm rolls back, when the bake and the
endpoint update run out, each workflow step and its retry, seen on the endpoint's weights, the
canary's record, the champion and what the workflow's task token receives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import controller
import pytest
from botocore.stub import Stubber
from controller import (
    AlarmStateChange,
    CanaryAlarmFiringError,
    EndpointNotReadyError,
    EndpointUpdateFailedError,
    Outcome,
    begin_bake,
    heartbeat,
    on_alarm,
    record_step,
    roll_back,
)
from moto.sagemaker.models import sagemaker_backends
from planning import plan

from conveyor import aws
from conveyor.state.canary import (
    CanaryState,
    CanaryStateError,
    EndpointBusyError,
    get_canary,
    lock_endpoint,
    transition,
)
from conveyor.state.champion import current_champion
from tests.unit.functions.test_canary_controller import (
    NOW,
    SETTINGS,
    alarm_event,
    baking,
    firing,
    heartbeat_state,
    release,
    serving,
    step,
    weights,
)

pytestmark = pytest.mark.usefixtures(serving.__name__)
ERRORS_ALARM = "conveyor-dev-canary-p2-errors"


def canary(version: int = 2) -> Any:
    record = get_canary("state", version)
    assert record is not None
    return record


def champion() -> tuple[int, str | None]:
    """The champion's version and variant."""
    pointer = current_champion("state")
    assert pointer is not None
    return pointer.version, pointer.variant_name


def event(name: str = ERRORS_ALARM, value: str = "ALARM") -> AlarmStateChange:
    """The sample alarm event, for alarm ``name`` changing to ``value``."""
    sample = alarm_event().model_dump(by_alias=True)
    sample["detail"]["alarmName"] = name
    sample["detail"]["state"]["value"] = value
    return AlarmStateChange.model_validate(sample)


def deploying() -> None:
    """Package 2's canary planned and on the endpoint beside the champion, its alarms not yet baking."""
    canary = plan(SETTINGS, release(2), now=NOW)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(EndpointConfigName="canary", ProductionVariants=canary.variants["canary"])
    sagemaker.delete_endpoint(EndpointName="conveyor-dev")
    sagemaker.create_endpoint(EndpointName="conveyor-dev", EndpointConfigName="canary")


def endpoint_status(status: str, failure_reason: str | None = None) -> None:
    """The endpoint as SageMaker reports it while it updates or after it failed (moto keeps it InService)."""
    endpoint = sagemaker_backends["123456789012"]["us-east-1"].endpoints["conveyor-dev"]
    endpoint.endpoint_status = status
    endpoint.failure_reason = failure_reason


@pytest.fixture
def workflow() -> Iterator[Stubber]:
    """The canary workflow's side of the bake's task token: what the controller sends it, in order."""
    with Stubber(aws.client("stepfunctions")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_failure(workflow: Stubber, cause: dict[str, Any], token: str = "token-of-the-bake") -> None:
    expected = {"taskToken": token, "error": "CanaryAlarm", "cause": json.dumps(cause)}
    workflow.add_response("send_task_failure", {}, expected)


# The bake


def test_a_bake_records_its_task_token_and_start_and_switches_the_heartbeat_on() -> None:
    # Given package 2's canary is deploying
    deploying()
    # When the workflow's bake begins
    outcome = begin_bake(SETTINGS, 2, "first-token", now=NOW)
    # Then the canary bakes with the token, since now, and the heartbeat watches it
    assert (outcome.action, outcome.state) == ("baking", CanaryState.BAKING)
    assert outcome.detail == {"alarm_names": canary().alarm_names}
    assert (canary().task_token, canary().bake_started_at) == ("first-token", NOW)
    assert heartbeat_state() == "ENABLED"


def test_a_retried_bake_takes_the_new_task_token() -> None:
    baking()
    begin_bake(SETTINGS, 2, "retried-token", now=NOW + timedelta(minutes=1))
    assert (canary().state, canary().task_token) == (CanaryState.BAKING, "retried-token")


def test_a_bake_cannot_begin_once_promotion_began() -> None:
    baking()
    record_step(SETTINGS, step("promote"), now=NOW)
    with pytest.raises(CanaryStateError, match="is PROMOTING, not DEPLOYING or BAKING"):
        begin_bake(SETTINGS, 2, "late-token", now=NOW)
    assert canary().task_token == "token-of-the-bake"


# Alarms


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (ERRORS_ALARM, "OK"),
        (ERRORS_ALARM, "INSUFFICIENT_DATA"),
        ("conveyor-prod-canary-p2-errors", "ALARM"),
        ("conveyor-dev-training-failures", "ALARM"),
    ],
)
def test_only_a_canary_alarm_of_this_stack_going_to_alarm_rolls_back(name: str, value: str) -> None:
    baking()
    outcome = on_alarm(SETTINGS, event(name, value), now=NOW + timedelta(minutes=3))
    assert (outcome.action, outcome.reason) == ("ignored", f"alarm {name} is {value}, not a canary's ALARM")
    assert canary().state == CanaryState.BAKING
    assert weights() == {"p1": 90.0, "p2": 10.0}


def test_an_alarm_fails_the_bakes_task_with_the_alarm_its_reason_and_its_data(workflow: Stubber) -> None:
    # Given package 2 bakes
    baking()
    sample = alarm_event().detail.state
    cause = {"alarm": ERRORS_ALARM, "reason": sample.reason, "reason_data": json.loads(sample.reason_data or "")}
    expect_failure(workflow, cause)
    # When its errors alarm goes to ALARM
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    # Then the workflow's bake fails with the alarm, and the canary records why and when
    assert (outcome.state, outcome.reason, outcome.detail) == (CanaryState.ROLLING_BACK, sample.reason, cause)
    record = canary()
    assert (record.alarm_name, record.reason, record.alarm_changed_at) == (
        ERRORS_ALARM,
        sample.reason,
        sample.timestamp,
    )


def test_the_cause_sent_to_the_workflow_is_cut_to_what_step_functions_takes(workflow: Stubber) -> None:
    baking()
    reason = "x" * 40_000
    cause = json.dumps({"alarm": ERRORS_ALARM, "reason": reason, "reason_data": None})[:32768]
    workflow.add_response(
        "send_task_failure", {}, {"taskToken": "token-of-the-bake", "error": "CanaryAlarm", "cause": cause}
    )
    outcome = roll_back(
        SETTINGS, 2, alarm=ERRORS_ALARM, reason=reason, reason_data=None, alarm_changed_at=None, now=NOW
    )
    assert outcome.detail["reason_data"] is None


@pytest.mark.parametrize("error", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_a_bake_already_over_does_not_stop_the_rollback(workflow: Stubber, error: str) -> None:
    # Given the bake's task ended (it timed out into promotion, which the rollback beat)
    baking()
    workflow.add_client_error("send_task_failure", service_error_code=error)
    # When the alarm comes
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    # Then the canary rolls back all the same
    assert outcome.action == "rolled_back"
    assert weights() == {"p1": 1.0, "p2": 0.0}


def test_an_alarm_retried_after_a_crash_before_the_weight_change_finishes_the_rollback(workflow: Stubber) -> None:
    # Given the canary went to ROLLING_BACK but the controller stopped before the weights changed
    baking()
    transition("state", 2, CanaryState.BAKING, CanaryState.ROLLING_BACK, now=NOW, alarm_name=ERRORS_ALARM)
    workflow.add_response("send_task_failure", {})
    # When the alarm is delivered again
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=4))
    # Then the rollback is finished: the challenger has no traffic, and the record says since when
    assert outcome.action == "rolled_back"
    assert weights() == {"p1": 1.0, "p2": 0.0}
    assert canary().weight_zero_at is not None


def test_an_alarm_of_a_canary_never_planned_changes_nothing() -> None:
    outcome = on_alarm(SETTINGS, event("conveyor-dev-canary-p7-errors"), now=NOW)
    assert (outcome.action, outcome.version, outcome.state) == ("ignored", 7, None)
    assert "canary of package 7 is missing" in outcome.reason
    assert weights() == {"p1": 1.0}


# The weight change


def test_a_rollback_whose_challenger_left_the_endpoint_has_nothing_to_shift() -> None:
    # Given SageMaker rolled the canary's update back: the endpoint serves the champion alone
    plan(SETTINGS, release(2), now=NOW)
    begin_bake(SETTINGS, 2, "token-of-the-bake", now=NOW)
    # When the alarm comes
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    # Then the rollback is done, the champion's weight untouched
    assert outcome.action == "rolled_back"
    assert weights() == {"p1": 1.0}
    assert canary().weight_zero_at is not None


def sagemaker_refusing_weights(status: str, variants: list[str]) -> Stubber:
    stubber = Stubber(aws.client("sagemaker"))
    stubber.add_client_error("update_endpoint_weights_and_capacities", service_error_code="ValidationException")
    described = {
        "EndpointName": "conveyor-dev",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/conveyor-dev",
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        "ProductionVariants": [{"VariantName": name} for name in variants],
    }
    stubber.add_response("describe_endpoint", described)
    return stubber


def test_a_rollback_while_the_endpoint_updates_waits_and_a_retry_finishes_it() -> None:
    baking()
    with (
        sagemaker_refusing_weights("Updating", ["p1", "p2"]),
        pytest.raises(EndpointNotReadyError, match="endpoint conveyor-dev is Updating"),
    ):
        on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    assert (canary().state, canary().weight_zero_at) == (CanaryState.ROLLING_BACK, None)


def test_a_weight_change_refused_on_an_endpoint_in_service_that_runs_the_challenger_fails() -> None:
    baking()
    with (
        sagemaker_refusing_weights("InService", ["p1", "p2"]),
        pytest.raises(aws.client("sagemaker").exceptions.ClientError),
    ):
        on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    assert canary().weight_zero_at is None


def test_a_canary_without_a_champion_rolls_back_its_challenger_alone() -> None:
    # Given package 2 is a first release (the endpoint gone), on the endpoint alone
    sagemaker = boto3.client("sagemaker")
    sagemaker.delete_endpoint(EndpointName="conveyor-dev")
    record = plan(SETTINGS, release(2), now=NOW)
    assert record.first_release
    sagemaker.create_endpoint_config(EndpointConfigName="first", ProductionVariants=record.variants["solo"])
    sagemaker.create_endpoint(EndpointName="conveyor-dev", EndpointConfigName="first")
    # When the workflow rolls it back
    outcome = record_step(SETTINGS, step("rollback", reason="promotion failed"), now=NOW)
    # Then the challenger alone loses its traffic
    assert (outcome.action, outcome.state) == ("rollback", CanaryState.ROLLING_BACK)
    assert weights() == {"p2": 0.0}


# The heartbeat


def test_a_heartbeat_beats_for_a_canary_whose_alarms_are_quiet(workflow: Stubber) -> None:
    baking()
    firing(ERRORS_ALARM, "OK")
    workflow.add_response("send_task_heartbeat", {}, {"taskToken": "token-of-the-bake"})
    assert heartbeat(SETTINGS, now=NOW) == [Outcome(action="heartbeat", version=2, state=CanaryState.BAKING)]
    assert heartbeat_state() == "ENABLED"


def test_a_heartbeat_for_a_bake_already_over_reports_nothing(workflow: Stubber) -> None:
    baking()
    workflow.add_client_error("send_task_heartbeat", service_error_code="TaskTimedOut")
    assert heartbeat(SETTINGS, now=NOW) == []


def test_a_bake_beginning_while_the_heartbeat_switches_off_keeps_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given nothing bakes when the heartbeat looks, and package 2's bake begins right after
    looks = []

    def look(table: str) -> list[Any]:
        found = controller_baking(table)
        if not looks:
            baking()
        looks.append(found)
        return found

    controller_baking = controller.baking_canaries
    monkeypatch.setattr(controller, "baking_canaries", look)
    # When the heartbeat switches itself off
    heartbeat(SETTINGS, now=NOW)
    # Then it looks again, and is on for the bake
    assert heartbeat_state() == "ENABLED"


def test_a_heartbeat_rolls_back_on_the_first_alarm_firing(workflow: Stubber) -> None:
    baking()
    firing("conveyor-dev-canary-p2-latency-p99")
    workflow.add_response("send_task_failure", {})
    [outcome] = heartbeat(SETTINGS, now=NOW)
    assert (outcome.action, outcome.detail["alarm"]) == ("rolled_back", "conveyor-dev-canary-p2-latency-p99")
    assert canary().alarm_changed_at is not None


# Workflow steps: endpoint readiness


def test_an_endpoint_in_service_on_the_expected_config_is_ready_with_its_weights() -> None:
    deploying()
    outcome = record_step(SETTINGS, step("endpoint_ready", endpoint_config_name="canary"), now=NOW)
    assert outcome.action == "in_service"
    assert outcome.detail == {"endpoint_config_name": "canary", "weights": {"p1": 90.0, "p2": 10.0}}


def test_without_an_expected_config_any_config_in_service_is_ready() -> None:
    outcome = record_step(SETTINGS, step("endpoint_ready"), now=NOW)
    assert (outcome.action, outcome.detail["endpoint_config_name"]) == ("in_service", "solo")


def test_an_endpoint_in_service_on_another_config_was_rolled_back_by_sagemaker() -> None:
    deploying()
    with pytest.raises(
        EndpointUpdateFailedError,
        match=r"InService on canary, not p2-solo: SageMaker rolled the update back \(no reason given\)$",
    ):
        record_step(SETTINGS, step("endpoint_ready", endpoint_config_name="p2-solo"), now=NOW)


@pytest.mark.parametrize(
    ("reason", "said"), [("capacity error", "capacity error"), (None, "no reason given")], ids=["reason", "none"]
)
def test_a_failed_endpoint_fails_the_step_with_its_reason(reason: str | None, said: str) -> None:
    deploying()
    endpoint_status("Failed", reason)
    with pytest.raises(EndpointUpdateFailedError, match=f"endpoint conveyor-dev failed: {said}"):
        record_step(SETTINGS, step("endpoint_ready", endpoint_config_name="canary"), now=NOW)


@pytest.mark.parametrize(
    ("waited", "error"),
    [
        (timedelta(minutes=30), EndpointNotReadyError),
        (timedelta(minutes=30, seconds=1), EndpointUpdateFailedError),
    ],
    ids=["at-the-limit", "past-it"],
)
def test_an_endpoint_updating_past_endpoint_update_minutes_has_failed(waited: timedelta, error: type) -> None:
    # Given the canary deploys since NOW and the endpoint still updates
    deploying()
    endpoint_status("Updating")
    # When the workflow asks after `waited`
    with pytest.raises(error, match="endpoint conveyor-dev is Updating") as raised:
        record_step(SETTINGS, step("endpoint_ready", endpoint_config_name="canary"), now=NOW + waited)
    # Then it waits up to EndpointUpdateMinutes, and fails past them
    assert type(raised.value) is error


def test_an_endpoint_updating_for_a_canary_not_recorded_waits() -> None:
    endpoint_status("Creating")
    with pytest.raises(EndpointNotReadyError, match="is Creating"):
        record_step(SETTINGS, step("endpoint_ready", 9), now=NOW + timedelta(days=1))


# Workflow steps: alarms


def test_arming_creates_the_plans_alarms_and_disarming_deletes_them_alone() -> None:
    firing("conveyor-dev-training-failures", "OK")
    alarms = plan(SETTINGS, release(2), now=NOW).alarms
    armed = record_step(SETTINGS, step("arm", alarms=alarms), now=NOW)
    names = [alarm["AlarmName"] for alarm in alarms]
    assert armed.detail == {"alarm_names": names}
    cloudwatch = boto3.client("cloudwatch")
    assert sorted(a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]) == sorted(
        [*names, "conveyor-dev-training-failures"]
    )
    assert record_step(SETTINGS, step("disarm", alarm_names=names), now=NOW).action == "disarmed"
    left = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
    assert left == ["conveyor-dev-training-failures"]


def test_disarming_no_alarms_deletes_none() -> None:
    firing("conveyor-dev-training-failures", "OK")
    assert record_step(SETTINGS, step("disarm"), now=NOW).action == "disarmed"
    assert len(boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]) == 1


# Workflow steps: promotion


def test_the_bake_ending_with_an_alarm_in_alarm_is_not_promoted() -> None:
    baking()
    firing("conveyor-dev-canary-p2-latency-p99")
    firing(ERRORS_ALARM, "OK")
    with pytest.raises(CanaryAlarmFiringError, match=r"in ALARM: conveyor-dev-canary-p2-latency-p99$"):
        record_step(SETTINGS, step("promote"), now=NOW + timedelta(minutes=30))
    assert canary().state == CanaryState.BAKING


def test_the_bake_ending_with_its_alarms_quiet_is_promoted() -> None:
    baking()
    firing(ERRORS_ALARM, "OK")
    outcome = record_step(SETTINGS, step("promote"), now=NOW + timedelta(minutes=30))
    assert (outcome.action, outcome.state, canary().state) == ("promote", CanaryState.PROMOTING, CanaryState.PROMOTING)


def test_promoting_a_canary_never_planned_is_refused() -> None:
    with pytest.raises(CanaryStateError, match="canary of package 9 is missing"):
        record_step(SETTINGS, step("promote", 9), now=NOW)


def test_a_retried_promoted_step_keeps_the_champion_and_the_endpoint_free() -> None:
    baking()
    record_step(SETTINGS, step("promote"), now=NOW)
    promoted = step("promoted", model_name="conveyor-dev-p2", endpoint_config_name="p2-solo")
    record_step(SETTINGS, promoted, now=NOW)
    again = record_step(SETTINGS, promoted, now=NOW + timedelta(minutes=1))
    assert (again.action, again.state) == ("promoted", CanaryState.PROMOTED)
    assert champion() == (2, "p2")
    plan(SETTINGS, release(3), now=NOW)


def test_a_rolled_back_canary_cannot_be_recorded_as_promoted() -> None:
    baking()
    on_alarm(SETTINGS, alarm_event(), now=NOW)
    with pytest.raises(CanaryStateError, match="is ROLLING_BACK"):
        record_step(SETTINGS, step("promoted", model_name="conveyor-dev-p2"), now=NOW)
    assert champion() == (1, "p1")


# Workflow steps: rollback


def test_a_rolled_back_canary_frees_the_endpoint_and_describes_the_alarm() -> None:
    baking()
    on_alarm(SETTINGS, alarm_event(), now=NOW)
    outcome = record_step(SETTINGS, step("rolled_back"), now=NOW)
    again = record_step(SETTINGS, step("rolled_back"), now=NOW)
    reason = alarm_event().detail.state.reason
    assert (outcome.state, again.state) == (CanaryState.ROLLED_BACK, CanaryState.ROLLED_BACK)
    assert outcome.detail == {"description": f"Rolled back by the endpoint canary: alarm {ERRORS_ALARM}: {reason}"}
    assert champion() == (1, "p1")
    plan(SETTINGS, release(3), now=NOW)


@pytest.mark.parametrize(
    ("reason", "description"),
    [
        ("a freeze", "Rolled back by the endpoint canary: a freeze"),
        ("", "Rolled back by the endpoint canary: rolled back"),
        ("y" * 2000, ("Rolled back by the endpoint canary: " + "y" * 2000)[:1024]),
    ],
    ids=["reason", "no-reason", "long"],
)
def test_the_workflows_rollback_is_described_by_its_reason(reason: str, description: str) -> None:
    baking()
    record_step(SETTINGS, step("rollback", reason=reason), now=NOW)
    outcome = record_step(SETTINGS, step("rolled_back"), now=NOW)
    assert outcome.detail == {"description": description}


def test_the_workflows_rollback_after_the_controllers_changes_nothing_more(workflow: Stubber) -> None:
    # Given the controller rolled the canary back on an alarm
    baking()
    workflow.add_response("send_task_failure", {})
    on_alarm(SETTINGS, alarm_event(), now=NOW)
    zeroed = canary().weight_zero_at
    # When the workflow's rollback step runs (no second task failure is expected)
    outcome = record_step(SETTINGS, step("rollback", reason="the bake failed"), now=NOW + timedelta(minutes=5))
    # Then it reports the controller's rollback and its reason
    assert (outcome.action, outcome.state) == ("rollback", CanaryState.ROLLING_BACK)
    assert outcome.reason == alarm_event().detail.state.reason
    assert canary().weight_zero_at == zeroed


def test_the_workflows_rollback_finishes_one_the_controller_left_half_done() -> None:
    baking()
    transition("state", 2, CanaryState.BAKING, CanaryState.ROLLING_BACK, now=NOW, reason="crashed")
    outcome = record_step(SETTINGS, step("rollback", reason="missed heartbeat"), now=NOW)
    assert (outcome.action, outcome.state) == ("rollback", CanaryState.ROLLING_BACK)
    assert weights() == {"p1": 1.0, "p2": 0.0}
    assert canary().weight_zero_at is not None


@pytest.mark.parametrize("state", ["deploying", "promoting"])
def test_the_workflow_rolls_back_a_canary_that_never_baked_or_failed_to_promote(state: str) -> None:
    if state == "deploying":
        deploying()
    else:
        baking()
        record_step(SETTINGS, step("promote"), now=NOW)
    outcome = record_step(SETTINGS, step("rollback", reason="alarms not created"), now=NOW)
    assert (outcome.action, outcome.state, outcome.detail["reason_data"]) == (
        "rollback",
        CanaryState.ROLLING_BACK,
        None,
    )
    assert weights() == {"p1": 1.0, "p2": 0.0}


def test_the_workflows_rollback_of_a_promoted_canary_changes_nothing() -> None:
    baking()
    record_step(SETTINGS, step("promote"), now=NOW)
    record_step(SETTINGS, step("promoted", model_name="conveyor-dev-p2"), now=NOW)
    outcome = record_step(SETTINGS, step("rollback", reason="late"), now=NOW)
    assert (outcome.action, outcome.state) == ("rollback", CanaryState.PROMOTED)
    assert canary().weight_zero_at is None


# Workflow steps: a failed deployment


def test_an_abandoned_deployment_fails_the_canary_and_frees_the_endpoint() -> None:
    deploying()
    outcome = record_step(SETTINGS, step("abandon", reason="update failed"), now=NOW)
    assert (outcome.action, outcome.state, outcome.reason) == ("abandoned", CanaryState.FAILED, "update failed")
    assert (canary().state, canary().reason) == (CanaryState.FAILED, "update failed")
    plan(SETTINGS, release(3), now=NOW)


def test_an_abandoned_plan_without_a_canary_frees_the_endpoint() -> None:
    lock_endpoint("state", 2, now=NOW)
    outcome = record_step(SETTINGS, step("abandon", reason="crashed before the record"), now=NOW)
    assert (outcome.action, outcome.state) == ("abandoned", CanaryState.FAILED)
    assert get_canary("state", 2) is None
    plan(SETTINGS, release(3), now=NOW)


def test_a_failure_after_the_bake_began_keeps_the_endpoint_locked() -> None:
    baking()
    outcome = record_step(SETTINGS, step("abandon", reason="late failure"), now=NOW)
    assert (outcome.action, outcome.state) == ("kept", CanaryState.BAKING)
    assert canary().state == CanaryState.BAKING
    with pytest.raises(EndpointBusyError):
        plan(SETTINGS, release(3), now=NOW)
