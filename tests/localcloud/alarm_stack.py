"""Helpers for the alarm tests: stack time set to a known second, per-variant metrics, state changes caught."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from localcloud import LocalCloud
from tests.conftest import FIXTURES
from tests.helpers import queue

ALARM_TEMPLATE = FIXTURES / "templates" / "alarm.yaml"
CANARY_TEMPLATE = FIXTURES / "templates" / "canary_alarm.yaml"


def dimensions(variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": "serving"}, {"Name": "VariantName", "Value": variant}]


def ten_past_the_next_minute(cloud: LocalCloud) -> datetime:
    """Advance stack time past exactly one minute boundary, to 10 s after it; return that time.

    Alarms are evaluated on the minute: from there, ``advance(minutes=n)`` passes exactly n boundaries.
    """
    now = cloud.clock.now()
    cloud.advance(seconds=70 - now.second - now.microsecond / 1e6)
    return cloud.clock.now()


def serve(cloud: LocalCloud, variant: str, invocations: float, errors: float, at: datetime | None = None) -> None:
    """Publish a variant's Invocations and Invocation5XXErrors as SageMaker does, at ``at`` (default: now)."""
    timestamp = at or cloud.clock.now()
    cloud.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions(variant), "Value": value, "Timestamp": timestamp}
            for name, value in (("Invocations", invocations), ("Invocation5XXErrors", errors))
        ],
    )


def alarm_state(cloud: LocalCloud, name: str) -> str:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    state: str = alarms[0]["StateValue"]
    return state


def queue_for_state_changes(cloud: LocalCloud) -> str:
    """A queue that a rule fills with every alarm state change event: its URL."""
    events = cloud.client("events")
    url, arn = queue(cloud, "alarm-changes")
    events.put_rule(
        Name="alarm-changes",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}),
    )
    events.put_targets(Rule="alarm-changes", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def state_changes(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    """The state change events in the queue, oldest first."""
    sqs = cloud.client("sqs")
    received: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received.extend(json.loads(message["Body"]) for message in messages)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return sorted(received, key=lambda event: (event["time"], event["detail"]["state"]["timestamp"]))
