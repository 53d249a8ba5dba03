"""Alarms are evaluated from metric data on stack time, on the minute, and their changes reach EventBridge and SNS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL
from localcloud.adapters.cloudwatch_alarms import cloudwatch_alarms, minute_boundaries
from localcloud.metric_statistics import statistic
from tests.helpers import subscribed_queue
from tests.localcloud.alarm_stack import (
    ALARM_TEMPLATE,
    alarm_state,
    dimensions,
    queue_for_state_changes,
    state_changes,
    ten_past_the_next_minute,
)
from tests.localcloud.small_stack import small_cloud

pytestmark = pytest.mark.localcloud

DIMENSIONS = dimensions("challenger")


@pytest.fixture
def alarm_cloud() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(ALARM_TEMPLATE) as cloud:
        yield cloud


def put_errors(cloud: LocalCloud, count: float, at: datetime | None = None) -> None:
    cloud.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocation5XXErrors",
                "Dimensions": DIMENSIONS,
                "Value": count,
                "Timestamp": at or cloud.clock.now(),
            }
        ],
    )


def put_errors_alarm(cloud: LocalCloud, name: str = "errors", **settings: object) -> None:
    """A one-minute alarm on the challenger's 5XX errors, made through the API."""
    alarm: dict[str, object] = {
        "AlarmName": name,
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors",
        "Dimensions": DIMENSIONS,
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    cloud.client("cloudwatch").put_metric_alarm(**{**alarm, **settings})


def test_gap_moto_never_evaluates_alarms() -> None:
    adapters = [a for a in ALL if a is not cloudwatch_alarms]
    with LocalCloud.from_template(ALARM_TEMPLATE, adapters=adapters) as cloud:
        put_errors(cloud, 5)
        cloud.advance(minutes=1)
        assert alarm_state(cloud, "challenger-5xx") == "OK"


def test_fix_errors_raise_the_alarm_and_its_change_reaches_eventbridge(alarm_cloud: LocalCloud) -> None:
    # Given a rule that forwards alarm state changes to a queue, and a quiet minute behind the alarm
    changes = queue_for_state_changes(alarm_cloud)
    ten_past_the_next_minute(alarm_cloud)
    # When the challenger returns errors and the minute ends
    put_errors(alarm_cloud, 3)
    alarm_cloud.advance(minutes=1)
    # Then the alarm is in ALARM and the change is on the bus
    assert alarm_state(alarm_cloud, "challenger-5xx") == "ALARM"
    [_, raised] = state_changes(alarm_cloud, changes)
    assert raised["detail"]["alarmName"] == "challenger-5xx"
    assert (raised["detail"]["previousState"]["value"], raised["detail"]["state"]["value"]) == ("OK", "ALARM")


def test_fix_the_alarm_returns_to_ok_once_the_errors_age_out(alarm_cloud: LocalCloud) -> None:
    ten_past_the_next_minute(alarm_cloud)
    put_errors(alarm_cloud, 3)
    alarm_cloud.advance(minutes=1)
    assert alarm_state(alarm_cloud, "challenger-5xx") == "ALARM"
    # Two evaluation periods later, with no more errors (missing data is not breaching)
    alarm_cloud.advance(minutes=2)
    assert alarm_state(alarm_cloud, "challenger-5xx") == "OK"


def test_fix_a_quiet_variant_does_not_alarm(alarm_cloud: LocalCloud) -> None:
    put_errors(alarm_cloud, 0)
    alarm_cloud.advance(minutes=1)
    assert alarm_state(alarm_cloud, "challenger-5xx") == "OK"


def test_gap_moto_starts_new_alarms_ok() -> None:
    with small_cloud(without=[cloudwatch_alarms]) as cloud:
        put_errors_alarm(cloud)
        assert alarm_state(cloud, "errors") == "OK"


def test_fix_new_alarms_start_with_insufficient_data(alarm_cloud: LocalCloud) -> None:
    # Given an alarm from the template and one from the API, not yet evaluated
    put_errors_alarm(alarm_cloud)
    # Then both wait for data, as on AWS
    assert alarm_state(alarm_cloud, "challenger-5xx") == "INSUFFICIENT_DATA"
    [alarm] = alarm_cloud.client("cloudwatch").describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")


def test_fix_the_first_change_leaves_insufficient_data_and_says_why_in_cloudwatchs_words() -> None:
    with small_cloud() as cloud:
        changes = queue_for_state_changes(cloud)
        ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud, AlarmDescription="The challenger fails.")
        put_errors(cloud, 3)
        cloud.advance(minutes=1)
        [event] = state_changes(cloud, changes)
    minute = datetime.fromisoformat(event["time"]) - timedelta(minutes=1)
    detail = event["detail"]
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["previousState"]["reason"] == "Unchecked: Initial alarm creation"
    assert detail["state"]["reason"] == (
        f"Threshold Crossed: 1 out of the last 1 datapoints [3.0 ({minute:%d/%m/%y %H:%M:%S})] was greater than "
        "the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    reason_data = json.loads(detail["state"]["reasonData"])
    assert reason_data["startDate"] == f"{minute:%Y-%m-%dT%H:%M:%S}.000+0000"
    assert (reason_data["statistic"], reason_data["period"], reason_data["threshold"]) == ("Sum", 60, 0.0)
    assert reason_data["recentDatapoints"] == [3.0]
    assert reason_data["evaluatedDatapoints"] == [
        {"timestamp": f"{minute:%Y-%m-%dT%H:%M:%S}.000+0000", "sampleCount": 1.0, "value": 3.0}
    ]
    [metric] = detail["configuration"]["metrics"]
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {"EndpointName": "serving", "VariantName": "challenger"},
            "name": "Invocation5XXErrors",
            "namespace": "AWS/SageMaker",
        },
        "period": 60,
        "stat": "Sum",
    }
    assert (metric["returnData"], detail["configuration"]["description"]) == (True, "The challenger fails.")


@pytest.mark.parametrize("step", [timedelta(minutes=10), timedelta(seconds=20)], ids=["one jump", "small steps"])
def test_fix_an_alarm_changes_at_the_minute_its_data_breached_however_time_advances(step: timedelta) -> None:
    with small_cloud() as cloud:
        changes = queue_for_state_changes(cloud)
        start = ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud)
        # Errors three and a half minutes from now, then none
        put_errors(cloud, 2, at=start + timedelta(minutes=3, seconds=20))
        # When ten minutes pass, at once or in steps
        for _ in range(timedelta(minutes=10) // step):
            cloud.advance(seconds=step.total_seconds())
        events = state_changes(cloud, changes)
    # Then the alarm went OK at the first minute, to ALARM at the end of the errors' minute, back the next
    minute = start.replace(second=0, microsecond=0)
    assert [(e["time"], e["detail"]["state"]["value"]) for e in events] == [
        (f"{minute + timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}", "OK"),
        (f"{minute + timedelta(minutes=4):%Y-%m-%dT%H:%M:%SZ}", "ALARM"),
        (f"{minute + timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}", "OK"),
    ]
    assert events[1]["detail"]["state"]["timestamp"] == f"{minute + timedelta(minutes=4):%Y-%m-%dT%H:%M:%S}.000+0000"


def test_minute_boundaries_are_whole_minutes_after_one_time_up_to_another() -> None:
    after = datetime.fromisoformat("2026-11-26T11:02:59.5+00:00")
    assert minute_boundaries(after, after + timedelta(seconds=0.4)) == []
    assert minute_boundaries(after, after + timedelta(minutes=2)) == [
        datetime.fromisoformat("2026-11-26T11:03:00+00:00"),
        datetime.fromisoformat("2026-11-26T11:04:00+00:00"),
    ]


def test_fix_a_deleted_alarm_is_no_longer_evaluated() -> None:
    with small_cloud() as cloud:
        changes = queue_for_state_changes(cloud)
        put_errors_alarm(cloud)
        cloud.client("cloudwatch").delete_alarms(AlarmNames=["errors"])
        put_errors(cloud, 3)
        cloud.advance(minutes=2)
        assert state_changes(cloud, changes) == []


def test_fix_an_updated_alarm_keeps_its_state() -> None:
    with small_cloud() as cloud:
        ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud)
        put_errors(cloud, 3)
        cloud.advance(minutes=1)
        put_errors_alarm(cloud, Threshold=10)
        assert alarm_state(cloud, "errors") == "ALARM"


def test_fix_missing_data_can_keep_the_state() -> None:
    with small_cloud() as cloud:
        ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud, TreatMissingData="ignore")
        put_errors(cloud, 3)
        cloud.advance(minutes=1)
        cloud.advance(minutes=5)
        assert alarm_state(cloud, "errors") == "ALARM"


def test_fix_missing_data_treated_as_not_breaching_is_ok_and_says_so() -> None:
    with small_cloud() as cloud:
        ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud, TreatMissingData="notBreaching")
        cloud.advance(minutes=1)
        [alarm] = cloud.client("cloudwatch").describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "OK",
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching].",
    )


def test_fix_missing_data_is_insufficient_data_by_default() -> None:
    with small_cloud() as cloud:
        ten_past_the_next_minute(cloud)
        put_errors_alarm(cloud, TreatMissingData="missing", EvaluationPeriods=2)
        put_errors(cloud, 3)
        cloud.advance(minutes=3)
        [alarm] = cloud.client("cloudwatch").describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "INSUFFICIENT_DATA",
        "Insufficient Data: 2 datapoints were unknown.",
    )


def test_alarm_actions_notify_the_topic(alarm_cloud: LocalCloud) -> None:
    sqs = alarm_cloud.client("sqs")
    url = subscribed_queue(alarm_cloud, alarm_cloud.outputs["TopicArn"], "alarm-actions")
    put_errors(alarm_cloud, 1)
    alarm_cloud.advance(minutes=1)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["NewStateValue"] == "ALARM"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Average", 5.5), ("Sum", 55.0), ("Maximum", 10.0), ("SampleCount", 10.0), ("p90", 9.0), ("p99", 10.0)],
)
def test_statistics_follow_cloudwatch_definitions(name: str, expected: float) -> None:
    assert statistic([float(v) for v in range(1, 11)], name) == expected


def test_a_percentile_is_the_nearest_rank_computed_exactly() -> None:
    # 99.9 % of 1000 is 999 exactly (in binary floating point it is a little more, which would give the 1000th)
    assert statistic([float(v) for v in range(1, 1001)], "p99.9") == 999.0
    assert statistic([float(v) for v in range(1, 1001)], "p50") == 500.0


def latency_alarm_fires(cloud: LocalCloud, slow: int, **settings: str) -> str:
    """A p99 latency alarm's state after a minute of 100 requests, ``slow`` of them slow."""
    ten_past_the_next_minute(cloud)
    cloudwatch = cloud.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="latency",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMENSIONS,
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=1,
        Threshold=500_000,
        ComparisonOperator="GreaterThanThreshold",
        **settings,
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "ModelLatency",
                "Dimensions": DIMENSIONS,
                "Values": [1_000, 900_000],
                "Counts": [100 - slow, slow],
                "Timestamp": cloud.clock.now(),
            }
        ],
    )
    cloud.advance(minutes=1)
    return alarm_state(cloud, "latency")


def test_fix_a_p99_alarm_fires_when_more_than_one_request_in_a_hundred_is_slow() -> None:
    with small_cloud() as cloud:
        assert latency_alarm_fires(cloud, slow=1) == "OK"
    with small_cloud() as cloud:
        assert latency_alarm_fires(cloud, slow=2) == "ALARM"


def test_fix_a_p99_alarm_can_wait_for_a_thousand_samples() -> None:
    # Fewer than 10 / (1 - 0.99) samples in the period: too few to judge a p99, and told to ignore them
    with small_cloud() as cloud:
        assert latency_alarm_fires(cloud, slow=2, EvaluateLowSampleCountPercentile="ignore") == "INSUFFICIENT_DATA"


def p99_of_the_last_minute(cloud: LocalCloud) -> list[dict[str, object]]:
    now = cloud.clock.now()
    cloud.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "ModelLatency", "Dimensions": DIMENSIONS, "Values": [1_000, 900_000], "Counts": [98, 2]}
        ],
    )
    datapoints: list[dict[str, object]] = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMENSIONS,
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
        Period=120,
        ExtendedStatistics=["p99", "p50"],
    )["Datapoints"]
    return datapoints


def test_gap_moto_has_no_percentile_statistics() -> None:
    with small_cloud(without=[cloudwatch_alarms]) as cloud:
        [datapoint] = p99_of_the_last_minute(cloud)
    assert "ExtendedStatistics" not in datapoint


def test_fix_percentile_statistics_are_answered() -> None:
    with small_cloud() as cloud:
        [datapoint] = p99_of_the_last_minute(cloud)
    assert datapoint["ExtendedStatistics"] == {"p99": 900_000.0, "p50": 1_000.0}


def test_the_clock_moves_only_forward(alarm_cloud: LocalCloud) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        alarm_cloud.clock.advance(timedelta(seconds=-1))


def test_an_action_on_a_topic_whose_policy_does_not_admit_cloudwatch_is_not_delivered(cloud: LocalCloud) -> None:
    # Given the stack's topic, whose policy (and key policy) name no CloudWatch today
    topic = cloud.outputs["NotificationTopicArn"]
    ten_past_the_next_minute(cloud)
    put_errors_alarm(cloud, "challenger-5xx", TreatMissingData="missing", AlarmActions=[topic])
    # When the alarm fires
    put_errors(cloud, 1)
    cloud.advance(minutes=1)
    # Then the alarm changed, but CloudWatch could not publish
    assert alarm_state(cloud, "challenger-5xx") == "ALARM"
    [(source, target, why)] = cloud.undelivered
    assert (source.rsplit(":", 1)[-1], target) == ("challenger-5xx", topic)
    assert why.startswith("User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish")
