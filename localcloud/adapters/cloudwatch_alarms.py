"""Gap: moto never evaluates CloudWatch alarms against metric data.

An alarm created in moto starts ``OK`` (AWS: ``INSUFFICIENT_DATA``) and stays in its first state
whatever metrics arrive; moto accepts any metric math, and ``get_metric_statistics`` ignores
``ExtendedStatistics``. Fix:

- Alarms are evaluated as CloudWatch does (:mod:`localcloud.alarm_evaluation`): once a minute,
  on the minute. On every ``cloud.advance(...)`` each alarm is evaluated at every minute boundary
  passed since the last evaluation, in order, over the datapoints of the periods ending there;
  so a change happens at the minute its data breached, however long the jump. A single-metric
  alarm compares its statistic; a metric math alarm evaluates each metric's statistic per
  period, then its expression (:mod:`localcloud.metric_math`).
- A change of state is published, timestamped at its minute, as a "CloudWatch Alarm State
  Change" event on the default bus (with AWS's ``configuration.metrics``, ``reason`` and
  ``reasonData``), and to the SNS topics among the alarm's actions for that state.
- PutMetricAlarm (from the API or a template) refuses, with a ValidationError naming the alarm
  and the token, an alarm the local cloud could not evaluate: never a silent, never-firing alarm.
  A new alarm starts in ``INSUFFICIENT_DATA``; an updated one keeps its state, as on AWS.
- ``get_metric_statistics`` answers ``ExtendedStatistics`` (percentiles).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from localcloud.alarm_evaluation import UnsupportedAlarmError, check, evaluate
from localcloud.alarm_events import notification, state, state_change_event
from localcloud.metric_statistics import MetricData, is_percentile, period_statistic, utc

if TYPE_CHECKING:
    from localcloud.interface import Cloud

_MINUTE = timedelta(minutes=1)
_INITIAL_REASON = "Unchecked: Initial alarm creation"


def minute_boundaries(after: datetime, until: datetime) -> list[datetime]:
    """Every whole minute in (after, until], in order."""
    first = after.replace(second=0, microsecond=0) + _MINUTE
    if first > until:
        return []
    return [first + index * _MINUTE for index in range(int((until - first) / _MINUTE) + 1)]


def evaluate_all(cloud: Cloud, at: datetime, data: MetricData | None = None) -> list[str]:
    """Evaluate every alarm at the minute boundary ``at``; return the names of those that changed state."""
    backend = cloudwatch_backends[cloud.account_id][cloud.region]
    if data is None:
        data = MetricData(backend.metric_data)
    changed = []
    alarm: Alarm
    for alarm in list(backend.alarms.values()):
        if utc(alarm.configuration_updated_timestamp) > at:
            continue  # not yet created (or changed) at that minute
        verdict = evaluate(alarm, data, at)
        if verdict is None or verdict.state == alarm.state_value:
            continue
        previous = state(alarm)
        alarm.update_state(verdict.reason, verdict.reason_data, verdict.state)
        alarm.state_updated_timestamp = at.replace(tzinfo=None)  # moto keeps naive UTC times
        changed.append(alarm.name)
        cloud.client("events").put_events(Entries=[state_change_event(alarm, previous, at)])
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions}.get(verdict.state)
        for action in alarm.insufficient_data_actions if actions is None else actions:
            if action.startswith("arn:aws:sns:") and alarm.actions_enabled:
                _notify(cloud, alarm, action, previous["value"])
    return changed


def _notify(cloud: Cloud, alarm: Alarm, topic_arn: str, old_state: str) -> None:
    """Publish as CloudWatch does, as itself: the topic's policy and its key's policy must allow it.

    A refused action is not retried; it is kept in ``cloud.undelivered``.
    """
    sns = cloud.client("sns", principal="cloudwatch.amazonaws.com", source_arn=alarm.alarm_arn)
    try:
        subject = f"{alarm.state_value}: {alarm.name}"[:100]
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=notification(alarm, old_state))
    except ClientError as error:
        cloud.undelivered.append((alarm.alarm_arn, topic_arn, error.response["Error"]["Message"]))


def _checked(original: Callable[..., Alarm]) -> Callable[..., Alarm]:
    """PutMetricAlarm that refuses what cannot be evaluated, starts new alarms in INSUFFICIENT_DATA and
    leaves an updated alarm's state as it was."""
    signature = inspect.signature(original)

    def put_metric_alarm(backend: CloudWatchBackend, **kwargs: Any) -> Alarm:
        arguments = signature.bind(backend, **kwargs)
        arguments.apply_defaults()
        settings = {k: v for k, v in arguments.arguments.items() if k not in ("self", "tags")}
        try:
            check(Alarm(account_id=backend.account_id, region_name=backend.region_name, **settings))
        except UnsupportedAlarmError as error:
            raise ValidationError(f"Alarm {kwargs['name']}: {error}") from error
        previous = backend.alarms.get(kwargs["name"])
        alarm = original(backend, **kwargs)
        if previous is None:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_reason = _INITIAL_REASON
        else:
            for kept in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history"):
                setattr(alarm, kept, getattr(previous, kept))
        return alarm

    return put_metric_alarm


def _with_percentiles(original: Callable[[CloudWatchResponse], ActionResult]) -> Callable[..., ActionResult]:
    """GetMetricStatistics that answers ExtendedStatistics (pNN.NN) for each datapoint moto returns."""

    def get_metric_statistics(response: CloudWatchResponse) -> ActionResult:
        names = response._get_param("ExtendedStatistics") or []
        for name in names:
            if not is_percentile(name):
                raise InvalidParameterValue(f"The value {name} for parameter ExtendedStatistics is not supported.")
        result = original(response)
        for point in result.result["Datapoints"]:  # type: ignore[index]
            values = {name: period_statistic(point.metric_data, name) for name in names}
            point.extended_statistics = {name: value for name, value in values.items() if value is not None}
        return result

    return get_metric_statistics


class _Ticker:
    """Evaluates every alarm at each minute boundary passed since it last ran."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self._evaluated_until = cloud.clock.now()

    def __call__(self) -> None:
        now = self._cloud.clock.now()
        boundaries = minute_boundaries(self._evaluated_until, now)
        backend = cloudwatch_backends[self._cloud.account_id][self._cloud.region]
        if boundaries and backend.alarms:
            data = MetricData(backend.metric_data)
            for boundary in boundaries:
                evaluate_all(self._cloud, boundary, data)
        self._evaluated_until = now


@contextmanager
def cloudwatch_alarms(cloud: Cloud) -> Iterator[None]:
    tick = _Ticker(cloud)
    with ExitStack() as stack:
        checked = _checked(CloudWatchBackend.put_metric_alarm)
        stack.enter_context(mock.patch.object(CloudWatchBackend, "put_metric_alarm", checked))
        percentiles = _with_percentiles(CloudWatchResponse.get_metric_statistics)
        stack.enter_context(mock.patch.object(CloudWatchResponse, "get_metric_statistics", percentiles))
        cloud.tickers.append(tick)
        stack.callback(cloud.tickers.remove, tick)
        yield
