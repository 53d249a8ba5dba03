"""Gap: moto never evaluates CloudWatch alarms against metric data.

An alarm created in moto stays in its first state whatever metrics arrive. Fix: on every
``cloud.advance(...)`` each metric alarm is evaluated as CloudWatch does: the statistic of each
of the last ``EvaluationPeriods`` periods (ending at stack time now), compared with the
threshold, with ``DatapointsToAlarm`` and ``TreatMissingData``. A change of state is published
as a "CloudWatch Alarm State Change" event on the default bus, and to the SNS topics among the
alarm's actions for that state.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from moto.cloudwatch.models import Alarm, MetricDatum, cloudwatch_backends

if TYPE_CHECKING:
    from localcloud.interface import Cloud

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


class UnsupportedAlarmError(Exception):
    """The local cloud cannot evaluate this kind of alarm (metric math, anomaly detection)."""


def statistic(values: Sequence[float], name: str) -> float:
    """One CloudWatch statistic (Average, Sum, Minimum, Maximum, SampleCount or pNN) of ``values``."""
    if name == "Average":
        return sum(values) / len(values)
    if name == "Sum":
        return sum(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name == "SampleCount":
        return float(len(values))
    if name.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(name[1:]) / 100 * len(ordered))
        return ordered[max(rank, 1) - 1]
    raise UnsupportedAlarmError(f"unknown statistic {name!r}")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate(alarm: Any, data: Sequence[MetricDatum], now: datetime) -> tuple[str, str]:
    """The state ``alarm`` should be in at ``now``, and the reason, from ``data``."""
    if alarm.metric_data_queries or not alarm.metric_name:
        raise UnsupportedAlarmError(f"alarm {alarm.name}: only single-metric alarms are evaluated locally")
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    matching = [
        datum
        for datum in data
        if datum.namespace == alarm.namespace
        and datum.name == alarm.metric_name
        and {(d.name, d.value) for d in datum.dimensions} == wanted
    ]
    period = timedelta(seconds=int(alarm.period))
    stat_name = alarm.statistic or alarm.extended_statistic
    compare = COMPARISONS[alarm.comparison_operator]
    treat_missing = alarm.treat_missing_data or "missing"
    outcomes: list[bool] = []
    for index in range(int(alarm.evaluation_periods)):
        end = now - index * period
        values = [d.value for d in matching if end - period <= _utc(d.timestamp) < end]
        if values:
            outcomes.append(compare(statistic(values, stat_name), float(alarm.threshold)))
        elif treat_missing in ("breaching", "notBreaching"):
            outcomes.append(treat_missing == "breaching")
    if not outcomes:
        return "INSUFFICIENT_DATA", f"no datapoints in the last {alarm.evaluation_periods} periods"
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    breaching = sum(outcomes)
    if breaching >= needed:
        return "ALARM", f"{breaching} of the last {len(outcomes)} datapoints breached the threshold"
    return (
        "OK",
        f"{breaching} of the last {len(outcomes)} datapoints breached the threshold ({needed} needed)",
    )


def _state_change_event(alarm: Any, previous: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [alarm.alarm_arn],
        "Time": now,
        "Detail": json.dumps(
            {
                "alarmName": alarm.name,
                "state": {
                    "value": alarm.state_value,
                    "reason": alarm.state_reason,
                    "timestamp": now.isoformat(),
                },
                "previousState": previous,
                "configuration": {
                    "description": alarm.description,
                    "metrics": [
                        {
                            "metricStat": {
                                "metric": {
                                    "namespace": alarm.namespace,
                                    "name": alarm.metric_name,
                                    "dimensions": {d.name: d.value for d in alarm.dimensions},
                                }
                            }
                        }
                    ],
                },
            }
        ),
    }


def evaluate_all(cloud: Cloud) -> list[str]:
    """Evaluate every alarm at stack time now; return the names of those that changed state."""
    backend = cloudwatch_backends[cloud.account_id][cloud.region]
    now = cloud.clock.now()
    data = [d for d in backend.metric_data if isinstance(d, MetricDatum)]
    changed = []
    alarm: Alarm
    for alarm in list(backend.alarms.values()):
        state, reason = evaluate(alarm, data, now)
        if state == alarm.state_value:
            continue
        previous = {"value": alarm.state_value, "reason": alarm.state_reason}
        alarm.update_state(reason, json.dumps({"evaluatedAt": now.isoformat()}), state)
        changed.append(alarm.name)
        cloud.client("events").put_events(Entries=[_state_change_event(alarm, previous, now)])
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions}.get(state, alarm.insufficient_data_actions)
        for action in actions or []:
            if action.startswith("arn:aws:sns:") and alarm.actions_enabled:
                _notify(cloud, alarm, action, state, reason)
    return changed


def _notify(cloud: Cloud, alarm: Alarm, topic_arn: str, state: str, reason: str) -> None:
    """Publish as CloudWatch does, as itself: the topic's policy and its key's policy must allow it.

    A refused action is not retried; it is kept in ``cloud.undelivered``.
    """
    sns = cloud.client("sns", principal="cloudwatch.amazonaws.com", source_arn=alarm.alarm_arn)
    try:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"{state}: {alarm.name}"[:100],
            Message=json.dumps({"AlarmName": alarm.name, "NewStateValue": state, "NewStateReason": reason}),
        )
    except ClientError as error:
        cloud.undelivered.append((alarm.alarm_arn, topic_arn, error.response["Error"]["Message"]))


@contextmanager
def cloudwatch_alarms(cloud: Cloud) -> Iterator[None]:
    def tick() -> None:
        evaluate_all(cloud)

    cloud.tickers.append(tick)
    try:
        yield
    finally:
        cloud.tickers.remove(tick)
