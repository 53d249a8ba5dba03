"""Alarms are evaluated from metric data on stack time, and their changes reach EventBridge and SNS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL
from localcloud.adapters.cloudwatch_alarms import cloudwatch_alarms, statistic
from tests.conftest import FIXTURES
from tests.helpers import queue, subscribed_queue

pytestmark = pytest.mark.localcloud

TEMPLATE = FIXTURES / "templates" / "alarm.yaml"
DIMENSIONS = [{"Name": "EndpointName", "Value": "serving"}, {"Name": "VariantName", "Value": "challenger"}]


@pytest.fixture
def alarm_cloud() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE) as cloud:
        yield cloud


def put_errors(cloud: LocalCloud, count: float) -> None:
    cloud.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocation5XXErrors",
                "Dimensions": DIMENSIONS,
                "Value": count,
                "Timestamp": cloud.clock.now(),
            }
        ],
    )


def alarm_state(cloud: LocalCloud) -> str:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=["challenger-5xx"])["MetricAlarms"]
    state: str = alarms[0]["StateValue"]
    return state


def queue_for_state_changes(cloud: LocalCloud) -> str:
    events = cloud.client("events")
    url, arn = queue(cloud, "alarm-changes")
    events.put_rule(
        Name="alarm-changes",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}),
    )
    events.put_targets(Rule="alarm-changes", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def test_gap_moto_never_evaluates_alarms() -> None:
    adapters = [a for a in ALL if a is not cloudwatch_alarms]
    with LocalCloud.from_template(TEMPLATE, adapters=adapters) as cloud:
        put_errors(cloud, 5)
        cloud.advance(seconds=30)
        assert alarm_state(cloud) == "OK"


def test_fix_errors_raise_the_alarm_and_its_change_reaches_eventbridge(alarm_cloud: LocalCloud) -> None:
    # Given a rule that forwards alarm state changes to a queue
    changes = queue_for_state_changes(alarm_cloud)
    # When the challenger returns errors and a period passes
    put_errors(alarm_cloud, 3)
    alarm_cloud.advance(seconds=30)
    # Then the alarm is in ALARM and the change is on the bus
    assert alarm_state(alarm_cloud) == "ALARM"
    [message] = alarm_cloud.client("sqs").receive_message(QueueUrl=changes, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert detail["alarmName"] == "challenger-5xx"
    assert (detail["previousState"]["value"], detail["state"]["value"]) == ("OK", "ALARM")


def test_fix_the_alarm_returns_to_ok_once_the_errors_age_out(alarm_cloud: LocalCloud) -> None:
    put_errors(alarm_cloud, 3)
    alarm_cloud.advance(seconds=30)
    assert alarm_state(alarm_cloud) == "ALARM"
    # Two evaluation periods later, with no more errors (missing data is not breaching)
    alarm_cloud.advance(minutes=2)
    assert alarm_state(alarm_cloud) == "OK"


def test_fix_a_quiet_variant_does_not_alarm(alarm_cloud: LocalCloud) -> None:
    put_errors(alarm_cloud, 0)
    alarm_cloud.advance(seconds=30)
    assert alarm_state(alarm_cloud) == "OK"


def test_alarm_actions_notify_the_topic(alarm_cloud: LocalCloud) -> None:
    sqs = alarm_cloud.client("sqs")
    url = subscribed_queue(alarm_cloud, alarm_cloud.outputs["TopicArn"], "alarm-actions")
    put_errors(alarm_cloud, 1)
    alarm_cloud.advance(seconds=30)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["NewStateValue"] == "ALARM"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Average", 5.5), ("Sum", 55.0), ("Maximum", 10.0), ("SampleCount", 10.0), ("p90", 9.0), ("p99", 10.0)],
)
def test_statistics_follow_cloudwatch_definitions(name: str, expected: float) -> None:
    assert statistic([float(v) for v in range(1, 11)], name) == expected


def test_the_clock_moves_only_forward(alarm_cloud: LocalCloud) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        alarm_cloud.clock.advance(timedelta(seconds=-1))


def test_an_action_on_a_topic_whose_policy_does_not_admit_cloudwatch_is_not_delivered(cloud: LocalCloud) -> None:
    # Given the stack's topic, whose policy (and key policy) name no CloudWatch today
    topic = cloud.outputs["NotificationTopicArn"]
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName="challenger-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=DIMENSIONS,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic],
    )
    # When the alarm fires
    put_errors(cloud, 1)
    cloud.advance(seconds=30)
    # Then the alarm changed, but CloudWatch could not publish
    assert alarm_state(cloud) == "ALARM"
    [(source, target, why)] = cloud.undelivered
    assert (source.rsplit(":", 1)[-1], target) == ("challenger-5xx", topic)
    assert why.startswith("User: cloudwatch.amazonaws.com is not authorized to perform: sns:Publish")
