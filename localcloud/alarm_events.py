"""What CloudWatch publishes when an alarm changes state: the EventBridge event and the SNS message.

The event is AWS's "CloudWatch Alarm State Change": ``detail`` holds ``alarmName``, ``state`` and
``previousState`` (value, reason, reasonData, timestamp) and ``configuration`` (description, and
``metrics``: a math alarm's queries as given, each with id, expression or metricStat, label and
returnData; a single-metric alarm's metric under an id of its own).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from moto.cloudwatch.models import Alarm, Metric, MetricStat

from localcloud.alarm_evaluation import returns_data
from localcloud.alarm_reasons import timestamp


def state(alarm: Alarm) -> dict[str, str]:
    """The alarm's state as the event shows it (no reasonData before the first evaluation)."""
    shown = {"value": alarm.state_value, "reason": alarm.state_reason}
    if alarm.state_reason_data and alarm.state_reason_data != "{}":
        shown["reasonData"] = alarm.state_reason_data
    shown["timestamp"] = timestamp(alarm.state_updated_timestamp)
    return shown


def state_change_event(alarm: Alarm, previous: dict[str, str], at: datetime) -> dict[str, Any]:
    """The PutEvents entry of the alarm's change, at the minute ``at``, from the ``previous`` state."""
    configuration: dict[str, Any] = {"metrics": _configured_metrics(alarm)}
    if alarm.description:
        configuration = {"description": alarm.description, **configuration}
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm.alarm_arn],
        "Time": at,
        "Detail": json.dumps(
            {
                "alarmName": alarm.name,
                "state": state(alarm),
                "previousState": previous,
                "configuration": configuration,
            }
        ),
    }


def _configured_metrics(alarm: Alarm) -> list[dict[str, Any]]:
    """``configuration.metrics`` as AWS shows it: the alarm's Metrics, or its one metric under an id of its own."""
    if not alarm.metric_data_queries:
        metric = Metric(alarm.metric_name, alarm.namespace, alarm.dimensions)
        name = alarm.statistic or alarm.extended_statistic or ""
        stat = MetricStat(metric, str(alarm.period), name, alarm.unit or "")
        return [
            {"id": str(uuid5(NAMESPACE_URL, alarm.alarm_arn)), "metricStat": _metric_stat(stat), "returnData": True}
        ]
    shown = []
    for query in alarm.metric_data_queries:
        item: dict[str, Any] = {"expression": query.expression} if query.expression else {}
        item["id"] = query.id
        if query.label:
            item["label"] = query.label
        if query.metric_stat is not None:
            item["metricStat"] = _metric_stat(query.metric_stat)
        item["returnData"] = returns_data(query)
        shown.append(item)
    return shown


def _metric_stat(stat: MetricStat) -> dict[str, Any]:
    metric = stat.metric
    shown: dict[str, Any] = {
        "metric": {
            "dimensions": {d.name: d.value for d in metric.dimensions},
            "name": metric.metric_name,
            "namespace": metric.namespace,
        },
        "period": int(stat.period),
        "stat": stat.stat,
    }
    if stat.unit:
        shown["unit"] = stat.unit
    return shown


def notification(alarm: Alarm, old_state: str) -> str:
    """The SNS message of an alarm's change to its current state from ``old_state``."""
    return json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmArn": alarm.alarm_arn,
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "OldStateValue": old_state,
            "StateChangeTime": timestamp(alarm.state_updated_timestamp),
        }
    )
