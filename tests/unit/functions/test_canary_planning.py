"""The canary's plan at its boundaries: first releases, the champion's variant beside the challenger,
the alarms' settings, data capture, and the settings' bounds."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from planning import CanarySettings, plan, version_of_alarm
from pydantic import ValidationError

from conveyor import aws
from conveyor.state.canary import CanaryState, get_canary
from conveyor.state.champion import ChampionPointer, set_champion
from tests.unit.functions.test_canary_controller import NOW, PACKAGE, SETTINGS, release, serving

with_the_champion_serving = pytest.mark.usefixtures(serving.__name__)


def variants(config: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    return [(v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config]


@with_the_champion_serving
def test_a_release_without_an_endpoint_is_a_first_release_served_alone() -> None:
    # Given the champion's endpoint is gone
    boto3.client("sagemaker").delete_endpoint(EndpointName="conveyor-dev")
    # When package 2 is planned
    canary = plan(SETTINGS, release(2), now=NOW)
    # Then it is served alone, with no alarms, and promotion gives it all the traffic
    assert (canary.first_release, canary.endpoint_exists, canary.champion_variant) == (True, False, None)
    assert canary.champion_package_arn == PACKAGE.format(1)
    solo = [("p2", "conveyor-dev-p2", 1)]
    assert (variants(canary.variants["canary"]), variants(canary.variants["solo"])) == (solo, solo)
    assert canary.variants["rollback"] == []
    assert (canary.alarms, canary.alarm_names) == ([], [])
    assert canary.weights["promote"] == [{"VariantName": "p2", "DesiredWeight": 1.0}]
    record = get_canary("state", 2)
    assert record is not None
    assert (record.champion_variant, record.champion_package_arn, record.alarm_names) == (None, None, [])


@with_the_champion_serving
def test_a_champion_without_a_variant_makes_a_first_release() -> None:
    # Given the champion was released without an endpoint (EndpointEnabled was false)
    set_champion("state", ChampionPointer(package_arn=PACKAGE.format(1), version=1, promoted_at=NOW))
    canary = plan(SETTINGS, release(2), now=NOW)
    assert (canary.first_release, canary.endpoint_exists) == (True, True)
    assert variants(canary.variants["canary"]) == [("p2", "conveyor-dev-p2", 1)]


@with_the_champion_serving
def test_a_champion_without_a_model_name_is_not_put_beside_the_challenger() -> None:
    set_champion("state", ChampionPointer(package_arn=PACKAGE.format(1), version=1, variant_name="p1", promoted_at=NOW))
    canary = plan(SETTINGS, release(2), now=NOW)
    assert (canary.first_release, canary.champion_variant) == (False, "p1")
    assert variants(canary.variants["canary"]) == [("p2", "conveyor-dev-p2", 1)]
    assert canary.variants["rollback"] == []


@with_the_champion_serving
def test_the_next_release_records_its_canary_beside_the_champion() -> None:
    canary = plan(SETTINGS, release(2), now=NOW)
    assert (canary.endpoint_name, canary.model_name, canary.endpoint_exists) == (
        "conveyor-dev",
        "conveyor-dev-p2",
        True,
    )
    assert canary.configs == {
        "canary": "conveyor-dev-p2-canary",
        "solo": "conveyor-dev-p2-solo",
        "rollback": "conveyor-dev-p2-rollback",
    }
    assert variants(canary.variants["canary"]) == [("p1", "conveyor-dev-p1", 90), ("p2", "conveyor-dev-p2", 10)]
    record = get_canary("state", 2)
    assert record is not None
    assert (record.state, record.state_changed_at, record.challenger_variant) == (CanaryState.DEPLOYING, NOW, "p2")
    assert (record.champion_variant, record.champion_package_arn) == ("p1", PACKAGE.format(1))
    assert (record.endpoint_config_name, record.alarm_names) == ("conveyor-dev-p2-canary", canary.alarm_names)


@pytest.mark.parametrize(("percent", "champion", "challenger"), [(1, 99, 1), (50, 50, 50)])
@with_the_champion_serving
def test_the_canary_takes_canary_percent_of_the_traffic(percent: int, champion: int, challenger: int) -> None:
    canary = plan(SETTINGS.model_copy(update={"canary_percent": percent}), release(2), now=NOW)
    assert [v["InitialVariantWeight"] for v in canary.variants["canary"]] == [champion, challenger]


@with_the_champion_serving
def test_the_alarms_watch_the_challenger_over_the_configured_periods() -> None:
    settings = SETTINGS.model_copy(update={"alarm_period_seconds": 300, "alarm_evaluation_periods": 3})
    errors, latency, comparative = plan(settings, release(2), now=NOW).alarms
    for alarm in (errors, latency, comparative):
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 3)
        assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanThreshold", "notBreaching")
        assert (alarm["ActionsEnabled"], alarm["AlarmActions"]) == (True, [SETTINGS.notification_topic_arn])
    challenger = [{"Name": "EndpointName", "Value": "conveyor-dev"}, {"Name": "VariantName", "Value": "p2"}]
    assert (errors["MetricName"], errors["Statistic"], errors["Dimensions"]) == (
        "Invocation5XXErrors",
        "Sum",
        challenger,
    )
    assert (errors["Period"], errors["Threshold"], latency["Period"]) == (300, 1, 300)
    metrics = {m["Id"]: m for m in comparative["Metrics"]}
    assert {i: m["MetricStat"]["Period"] for i, m in metrics.items() if "MetricStat" in m} == dict.fromkeys(
        ["ce", "ci", "pe", "pi"], 300
    )
    variant = {i: m["MetricStat"]["Metric"]["Dimensions"][1]["Value"] for i, m in metrics.items() if "MetricStat" in m}
    assert variant == {"ce": "p2", "ci": "p2", "pe": "p1", "pi": "p1"}
    assert "above the champion's (p1) by more than 0.05" in comparative["AlarmDescription"]


@pytest.mark.parametrize(("percent", "enabled"), [(0, False), (1, True)])
@with_the_champion_serving
def test_data_capture_is_on_from_one_percent(percent: int, enabled: bool) -> None:
    capture = plan(SETTINGS.model_copy(update={"data_capture_percent": percent}), release(2), now=NOW).data_capture
    assert (capture["EnableCapture"], capture["InitialSamplingPercentage"]) == (enabled, percent)
    assert (capture["DestinationS3Uri"], capture["KmsKeyId"]) == ("s3://data/capture/", SETTINGS.key_arn)


@with_the_champion_serving
def test_an_endpoint_that_cannot_be_described_fails_the_plan() -> None:
    with Stubber(aws.client("sagemaker")) as sagemaker:
        sagemaker.add_client_error(
            "describe_endpoint", service_error_code="ThrottlingException", service_message="Rate"
        )
        with pytest.raises(aws.client("sagemaker").exceptions.ClientError, match="Rate"):
            plan(SETTINGS, release(2), now=NOW)


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("conveyor-dev-canary-p12-errors", 12),
        ("conveyor-dev-canary-p12", 12),
        ("conveyor-dev-canary-p-errors", None),
        ("12-errors", None),
        ("other-conveyor-dev-canary-p12-errors", None),
    ],
)
def test_an_alarm_names_a_canary_only_by_the_stacks_prefix_and_a_version(name: str, version: int | None) -> None:
    assert version_of_alarm(SETTINGS, name) == version


def test_settings_default_to_a_fixed_instance_count() -> None:
    settings = CanarySettings.model_validate(SETTINGS.model_dump(exclude=set(DEFAULTED)))
    assert {name: getattr(settings, name) for name in DEFAULTED} == DEFAULTED


DEFAULTED = {
    "endpoint_auto_scaling": False,
    "endpoint_min_instances": 1,
    "endpoint_max_instances": 1,
    "endpoint_target_invocations_per_instance": 1000,
}


@pytest.mark.parametrize(
    ("field", "valid", "invalid"),
    [
        ("endpoint_instance_count", [1], [0]),
        ("endpoint_min_instances", [1], [0]),
        ("endpoint_max_instances", [1], [0]),
        ("endpoint_target_invocations_per_instance", [0.5], [0]),
        ("canary_percent", [1, 50], [0, 51]),
        ("bake_minutes", [1, 1440], [0, 1441]),
        ("alarm_period_seconds", [10], [9]),
        ("alarm_evaluation_periods", [1], [0]),
        ("canary_error_threshold", [0], [-0.5]),
        ("canary_error_rate_margin", [0, 1], [-0.1, 1.1]),
        ("canary_latency_p99_ms", [0.5], [0]),
        ("data_capture_percent", [0, 100], [-1, 101]),
        ("endpoint_update_minutes", [1, 240], [0, 241]),
    ],
)
def test_settings_take_values_within_their_bounds_only(field: str, valid: list[float], invalid: list[float]) -> None:
    given = SETTINGS.model_dump()
    for value in valid:
        assert getattr(CanarySettings.model_validate(given | {field: value}), field) == value
    for value in invalid:
        with pytest.raises(ValidationError, match=field):
            CanarySettings.model_validate(given | {field: value})
