"""The canary controller: its plan, and promotion and rollback racing for the same canary."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from controller import AlarmStateChange, WorkflowStep, begin_bake, heartbeat, on_alarm, record_step
from moto import mock_aws
from planning import CanarySettings, ReleaseInput, plan, version_of_alarm

from conveyor import aws
from conveyor.state.canary import CanaryState, CanaryStateError, EndpointBusyError, get_canary
from conveyor.state.champion import ChampionPointer, current_champion, set_champion
from tests.helpers import load_event
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SETTINGS = CanarySettings(
    project_name="conveyor",
    stage="dev",
    conveyor_version="0.1.0",
    state_table_name="state",
    endpoint_name="conveyor-dev",
    resource_prefix="conveyor-dev",
    endpoint_instance_type="ml.m5.large",
    endpoint_instance_count=1,
    canary_percent=10,
    bake_minutes=30,
    alarm_period_seconds=60,
    alarm_evaluation_periods=1,
    canary_error_threshold=1,
    canary_error_rate_margin=0.05,
    canary_latency_p99_ms=500,
    data_capture_percent=0,
    endpoint_update_minutes=30,
    heartbeat_schedule_name="conveyor-dev-canary-heartbeat",
    data_bucket_name="data",
    key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    notification_topic_arn="arn:aws:sns:us-east-1:123456789012:notifications",
)
ROLE = "arn:aws:iam::123456789012:role/heartbeat"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/{}"


def release(version: int) -> ReleaseInput:
    return ReleaseInput(
        model_package_arn=PACKAGE.format(version),
        model_package_version=version,
        model_data_url=f"s3://artifacts/training/run-{version}/model.tar.gz",
    )


@pytest.fixture
def serving() -> Iterator[None]:
    """The state table (from template.yaml) and an endpoint serving package 1 alone, its champion."""
    with mock_aws():
        create_state_table()
        boto3.client("scheduler").create_schedule(
            Name="conveyor-dev-canary-heartbeat",
            ScheduleExpression="rate(1 minute)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:controller", "RoleArn": ROLE},
            State="DISABLED",
        )
        sagemaker = boto3.client("sagemaker")
        for version in (1, 2):
            sagemaker.create_model(
                ModelName=f"conveyor-dev-p{version}",
                ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
                PrimaryContainer={"Image": "xgboost", "ModelDataUrl": f"s3://artifacts/{version}.tar.gz"},
            )
        canary = plan(SETTINGS, release(1), now=NOW)
        sagemaker.create_endpoint_config(EndpointConfigName="solo", ProductionVariants=canary.variants["solo"])
        sagemaker.create_endpoint(EndpointName="conveyor-dev", EndpointConfigName="solo")
        record_step(SETTINGS, step("promoted", 1, model_name="conveyor-dev-p1", endpoint_config_name="solo"), now=NOW)
        yield
    aws.client.cache_clear()


def step(name: str, version: int = 2, **fields: object) -> WorkflowStep:
    return WorkflowStep.model_validate(
        {"step": name, "version": version, "package_arn": PACKAGE.format(version)} | fields
    )


def baking(now: datetime = NOW) -> None:
    """Package 2's canary planned, on the endpoint beside the champion, and baking."""
    canary = plan(SETTINGS, release(2), now=now)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(EndpointConfigName="canary", ProductionVariants=canary.variants["canary"])
    # (plain moto has no UpdateEndpoint: the endpoint is made again on the canary config)
    sagemaker.delete_endpoint(EndpointName="conveyor-dev")
    sagemaker.create_endpoint(EndpointName="conveyor-dev", EndpointConfigName="canary")
    begin_bake(SETTINGS, 2, "token-of-the-bake", now=now)


def alarm_event() -> AlarmStateChange:
    return AlarmStateChange.model_validate(load_event("release/canary_controller.json"))


def weights() -> dict[str, float]:
    endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName="conveyor-dev")
    return {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}


def test_the_first_release_serves_the_model_alone_and_the_next_beside_the_champion(serving: None) -> None:
    champion = current_champion("state")
    assert champion is not None
    assert (champion.version, champion.variant_name, champion.model_name) == (1, "p1", "conveyor-dev-p1")
    canary = plan(SETTINGS, release(2), now=NOW)
    assert not canary.first_release
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in canary.variants["canary"]] == [
        ("p1", 90),
        ("p2", 10),
    ]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in canary.variants["rollback"]] == [("p1", 1)]
    assert canary.weights["promote"] == [
        {"VariantName": "p2", "DesiredWeight": 1.0},
        {"VariantName": "p1", "DesiredWeight": 0.0},
    ]
    assert canary.bake_seconds == 30 * 60
    assert canary.alarm_names == [
        "conveyor-dev-canary-p2-errors",
        "conveyor-dev-canary-p2-latency-p99",
        "conveyor-dev-canary-p2-error-rate-vs-champion",
    ]
    latency = canary.alarms[1]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 500_000)
    comparative = canary.alarms[2]
    assert [m["Id"] for m in comparative["Metrics"] if m["ReturnData"]] == ["gap"]
    assert comparative["Threshold"] == 0.05


def test_a_second_package_waits_while_a_canary_holds_the_endpoint(serving: None) -> None:
    baking()
    with pytest.raises(EndpointBusyError, match="package 3 waits"):
        plan(SETTINGS, release(3), now=NOW)
    # The same package asking again (a retried plan) keeps its claim
    plan(SETTINGS, release(2), now=NOW)


def test_an_alarm_rolls_the_baking_canary_back_and_its_weight_goes_to_zero(serving: None) -> None:
    baking()
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    assert outcome.action == "rolled_back"
    assert weights() == {"p1": 1.0, "p2": 0.0}
    record = get_canary("state", 2)
    assert record is not None
    assert (record.state, record.alarm_name) == (CanaryState.ROLLING_BACK, "conveyor-dev-canary-p2-errors")
    assert record.weight_zero_at is not None


def test_alarm_first_then_promotion_the_promotion_is_refused(serving: None) -> None:
    baking()
    on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    with pytest.raises(CanaryStateError, match="is ROLLING_BACK, not BAKING"):
        record_step(SETTINGS, step("promote"), now=NOW + timedelta(minutes=3))
    assert weights() == {"p1": 1.0, "p2": 0.0}


def test_promotion_first_then_alarm_the_alarm_changes_nothing(serving: None) -> None:
    baking()
    record_step(SETTINGS, step("promote"), now=NOW + timedelta(minutes=30))
    outcome = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=30))
    assert (outcome.action, outcome.state) == ("ignored", CanaryState.PROMOTING)
    assert weights() == {"p1": 90.0, "p2": 10.0}


def test_a_duplicate_alarm_event_rolls_back_once(serving: None) -> None:
    baking()
    first = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=3))
    again = on_alarm(SETTINGS, alarm_event(), now=NOW + timedelta(minutes=4))
    assert (first.action, again.action) == ("rolled_back", "ignored")
    record = get_canary("state", 2)
    assert record is not None
    assert record.alarm_changed_at == alarm_event().detail.state.timestamp


def heartbeat_state() -> str:
    return str(boto3.client("scheduler").get_schedule(Name="conveyor-dev-canary-heartbeat")["State"])


def test_the_heartbeat_beats_only_while_a_canary_bakes(serving: None) -> None:
    assert heartbeat_state() == "DISABLED"
    baking()
    assert heartbeat_state() == "ENABLED"
    record_step(SETTINGS, step("promote"), now=NOW)
    assert heartbeat(SETTINGS, now=NOW) == []
    assert heartbeat_state() == "DISABLED"


def firing(name: str, value: str = "ALARM", reason: str = "seen by the heartbeat") -> None:
    """An alarm of the canary in CloudWatch, in state ``value``."""
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    if value != "OK":
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=value, StateReason=reason)


def test_a_heartbeat_finding_an_alarm_already_firing_rolls_back(serving: None) -> None:
    baking()
    canary = get_canary("state", 2)
    assert canary is not None
    firing(canary.alarm_names[0], reason="lost event")
    [outcome] = heartbeat(SETTINGS, now=NOW)
    assert (outcome.action, outcome.reason) == ("rolled_back", "lost event")
    assert weights() == {"p1": 1.0, "p2": 0.0}


def test_only_the_stacks_canary_alarms_name_a_canary() -> None:
    assert version_of_alarm(SETTINGS, "conveyor-dev-canary-p12-errors") == 12
    assert version_of_alarm(SETTINGS, "conveyor-prod-canary-p12-errors") is None
    assert version_of_alarm(SETTINGS, "conveyor-dev-canary-px-errors") is None


def test_promotion_moves_the_champion_and_frees_the_endpoint(serving: None) -> None:
    baking()
    record_step(SETTINGS, step("promote"), now=NOW)
    record_step(SETTINGS, step("promoted", model_name="conveyor-dev-p2", endpoint_config_name="p2-solo"), now=NOW)
    champion = current_champion("state")
    assert champion == ChampionPointer(
        package_arn=PACKAGE.format(2),
        version=2,
        model_name="conveyor-dev-p2",
        variant_name="p2",
        endpoint_config_name="p2-solo",
        promoted_at=NOW,
    )
    plan(SETTINGS, release(3), now=NOW)  # the endpoint is free for the next package


def test_without_an_endpoint_the_released_package_is_the_champion(serving: None) -> None:
    set_champion("state", ChampionPointer(package_arn=PACKAGE.format(1), version=1, promoted_at=NOW))
    record_step(SETTINGS, step("no_endpoint", 4), now=NOW)
    champion = current_champion("state")
    assert champion is not None
    assert (champion.version, champion.variant_name) == (4, None)
