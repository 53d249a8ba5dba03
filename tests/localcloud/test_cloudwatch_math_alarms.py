"""Metric math alarms compare per-variant rates as CloudWatch does; what cannot be evaluated is refused at creation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.cloudwatch_alarms import cloudwatch_alarms
from tests.localcloud.alarm_stack import (
    CANARY_TEMPLATE,
    alarm_state,
    dimensions,
    queue_for_state_changes,
    serve,
    state_changes,
    ten_past_the_next_minute,
)
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

ALARM = "challenger-error-rate"
FILLED = "FILL(m1, 0) / FILL(m2, 1) - FILL(m3, 0) / FILL(m4, 1)"


@contextmanager
def canary(**parameters: str) -> Iterator[LocalCloud]:
    """The canary's comparative alarm, deployed from its template; stack time at ten past a minute."""
    with LocalCloud.from_template(CANARY_TEMPLATE, parameters=parameters) as cloud:
        ten_past_the_next_minute(cloud)
        yield cloud


def metrics(expression: str) -> list[dict[str, Any]]:
    """The canary alarm's Metrics, as an aws-sdk task would give them to PutMetricAlarm."""
    queries: list[dict[str, Any]] = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": dimensions(variant)},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }
        for query_id, name, variant in (
            ("m1", "Invocation5XXErrors", "challenger"),
            ("m2", "Invocations", "challenger"),
            ("m3", "Invocation5XXErrors", "champion"),
            ("m4", "Invocations", "champion"),
        )
    ]
    return [*queries, {"Id": "e1", "Expression": expression, "ReturnData": True}]


def put_canary_alarm(cloud: LocalCloud, expression: str, **settings: Any) -> None:
    alarm = {
        "AlarmName": ALARM,
        "Metrics": metrics(expression),
        "EvaluationPeriods": 1,
        "Threshold": 0.05,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cloud.client("cloudwatch").put_metric_alarm(**{**alarm, **settings})


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_fix_the_alarm_fires_when_the_challenger_fails_more_than_the_champion_by_the_margin() -> None:
    with canary() as cloud:
        changes = queue_for_state_changes(cloud)
        # Given a minute in which the challenger fails 1 request in 4 and the champion 1 in 8
        served = cloud.clock.now()
        serve(cloud, "challenger", invocations=120, errors=30)
        serve(cloud, "champion", invocations=40, errors=5)
        # When the minute ends
        cloud.advance(minutes=1)
        # Then the alarm fires, and its reason quotes the difference of the two rates
        assert alarm_state(cloud, ALARM) == "ALARM"
        [event] = state_changes(cloud, changes)
    state = event["detail"]["state"]
    assert state["reason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [0.125 ({minute_of(served):%d/%m/%y %H:%M:%S})] "
        "was greater than the threshold (0.05) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    reason_data = json.loads(state["reasonData"])
    assert (reason_data["recentDatapoints"], reason_data["threshold"], reason_data["period"]) == ([0.125], 0.05, 60)
    assert reason_data["evaluatedDatapoints"] == [
        {"timestamp": f"{minute_of(served):%Y-%m-%dT%H:%M:%S}.000+0000", "value": 0.125}
    ]
    assert "statistic" not in reason_data


def test_fix_the_alarm_stays_ok_when_both_variants_fail_alike() -> None:
    with canary() as cloud:
        serve(cloud, "challenger", invocations=100, errors=20)
        serve(cloud, "champion", invocations=50, errors=10)
        cloud.advance(minutes=1)
        assert alarm_state(cloud, ALARM) == "OK"


def test_fix_an_idle_challenger_does_not_alarm() -> None:
    with canary() as cloud:
        serve(cloud, "champion", invocations=100, errors=10)
        cloud.advance(minutes=1)
        assert alarm_state(cloud, ALARM) == "OK"


def test_fix_without_traffic_the_comparison_has_no_datapoint() -> None:
    with canary() as cloud:
        serve(cloud, "challenger", invocations=10, errors=5)
        serve(cloud, "champion", invocations=10, errors=0)
        cloud.advance(minutes=1)
        assert alarm_state(cloud, ALARM) == "ALARM"
        # When a minute passes with no traffic at all
        cloud.advance(minutes=1)
        [alarm] = cloud.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "INSUFFICIENT_DATA",
        "Insufficient Data: 1 datapoint was unknown.",
    )


def test_fix_a_filled_comparison_reads_no_traffic_as_no_difference() -> None:
    with canary(Expression=FILLED) as cloud:
        cloud.advance(minutes=1)
        [alarm] = cloud.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["StateValue"] == "OK"
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [0.0]


def test_fix_the_event_carries_the_metric_math_configuration() -> None:
    with canary() as cloud:
        changes = queue_for_state_changes(cloud)
        serve(cloud, "challenger", invocations=10, errors=5)
        cloud.advance(minutes=1)
        [event] = state_changes(cloud, changes)
    configuration = event["detail"]["configuration"]
    assert configuration["description"].startswith("The challenger fails more often than the champion")
    [m1, m2, m3, m4, e1] = configuration["metrics"]
    assert e1 == {
        "expression": "(m1/m2) - (m3/m4)",
        "id": "e1",
        "label": "Challenger 5XX rate minus the champion's",
        "returnData": True,
    }
    assert m1 == {
        "id": "m1",
        "metricStat": {
            "metric": {
                "dimensions": {"EndpointName": "serving", "VariantName": "challenger"},
                "name": "Invocation5XXErrors",
                "namespace": "AWS/SageMaker",
            },
            "period": 60,
            "stat": "Sum",
        },
        "returnData": False,
    }
    assert [m["metricStat"]["metric"]["name"] for m in (m2, m3, m4)] == [
        "Invocations",
        "Invocation5XXErrors",
        "Invocations",
    ]
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"


def test_gap_moto_accepts_metric_math_it_never_evaluates() -> None:
    with small_cloud(without=[cloudwatch_alarms]) as cloud:
        put_canary_alarm(cloud, "LOG10(m1)")
        assert alarm_state(cloud, ALARM) == "OK"


@pytest.mark.parametrize(
    ("expression", "token"),
    [
        ("LOG10(m1)", "LOG10"),
        ("MAX(m1) - m3", "MAX"),
        ("FILL(m1, REPEAT) / m2", "REPEAT"),
        ('SUM(METRICS("m"))', "METRICS"),
        ("m1 / m9", "m9"),
        ("(m1 / m2", "m2"),
        ("0.05", "e1"),
    ],
)
def test_fix_an_expression_the_local_cloud_cannot_evaluate_is_refused_at_creation(expression: str, token: str) -> None:
    with small_cloud() as cloud:
        with pytest.raises(ClientError) as refused:
            put_canary_alarm(cloud, expression)
        assert cloud.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith(f"Alarm {ALARM}: the local cloud cannot evaluate {token!r}")


@pytest.mark.parametrize(
    ("settings", "token"),
    [
        ({"ThresholdMetricId": "e1", "ComparisonOperator": "GreaterThanUpperThreshold"}, "e1"),
        ({"Metrics": [{**metrics("m1")[0], "MetricStat": {**metrics("m1")[0]["MetricStat"], "Stat": "tm99"}}]}, "tm99"),
        ({"Metrics": [{**query, "ReturnData": True} for query in metrics("m1 / m2")]}, "ReturnData"),
    ],
    ids=["anomaly band", "trimmed mean", "two returned"],
)
def test_fix_other_alarms_the_local_cloud_cannot_evaluate_are_refused(settings: dict[str, Any], token: str) -> None:
    with small_cloud() as cloud, pytest.raises(ClientError, match=f"cannot evaluate '{token}'"):
        put_canary_alarm(cloud, "m1 / m2", **settings)


def test_fix_an_expression_the_local_cloud_cannot_evaluate_is_refused_from_a_template() -> None:
    with (
        pytest.raises(ClientError) as refused,
        LocalCloud.from_template(CANARY_TEMPLATE, parameters={"Expression": "LOG10(m1)"}),
    ):
        pass
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert f"Alarm {ALARM}: the local cloud cannot evaluate 'LOG10'" in refused.value.response["Error"]["Message"]


def test_a_comparison_alarm_made_through_the_api_evaluates_like_the_templates() -> None:
    with small_cloud() as cloud:
        ten_past_the_next_minute(cloud)
        put_canary_alarm(cloud, "IF(m2 > 0 AND m4 > 0, m1/m2 - m3/m4, 0)")
        serve(cloud, "challenger", invocations=10, errors=4)
        serve(cloud, "champion", invocations=10, errors=1)
        serve(cloud, "challenger", invocations=10, errors=0, at=cloud.clock.now() + timedelta(minutes=1))
        cloud.advance(minutes=1)
        assert alarm_state(cloud, ALARM) == "ALARM"
        # The next minute only the challenger serves: the guard reads it as no difference
        cloud.advance(minutes=1)
        assert alarm_state(cloud, ALARM) == "OK"


def create_alarm_in_a_workflow(cloud: LocalCloud, expression: str) -> dict[str, Any]:
    """Run a state machine whose aws-sdk task creates the canary alarm, as the canary's workflow does."""
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricAlarm",
        "Parameters": {
            "AlarmName": ALARM,
            "Metrics": metrics(expression),
            "EvaluationPeriods": 1,
            "Threshold": 0.05,
            "ComparisonOperator": "GreaterThanThreshold",
        },
        "End": True,
    }
    execution = start(cloud, "canary", {"StartAt": "Create the alarm", "States": {"Create the alarm": task}})
    cloud.run_until_idle()
    return outcome(cloud, execution)


def test_fix_a_workflow_creates_a_math_alarm_or_fails_on_one_it_cannot_evaluate() -> None:
    with small_cloud() as cloud:
        assert create_alarm_in_a_workflow(cloud, "(m1/m2) - (m3/m4)")["status"] == "SUCCEEDED"
        assert alarm_state(cloud, ALARM) == "INSUFFICIENT_DATA"
    with small_cloud() as cloud:
        failed = create_alarm_in_a_workflow(cloud, "LOG10(m1)")
    assert (failed["status"], failed["error"]) == ("FAILED", "CloudWatch.ValidationException")
    assert f"Alarm {ALARM}: the local cloud cannot evaluate 'LOG10'" in failed["cause"]
