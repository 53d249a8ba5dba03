"""How CloudWatch decides a metric alarm's state, for the local cloud.

:func:`check` refuses, when the alarm is created, what the local cloud could not evaluate (an
anomaly band, an unknown statistic, metric math beyond :mod:`localcloud.metric_math`): such an
alarm would otherwise never fire. :func:`evaluate` gives the state at one minute boundary: the
statistic of each of the last ``EvaluationPeriods`` periods ending there (for a math alarm, each
metric's statistic, then the expression), compared with the threshold, with
``DatapointsToAlarm`` and ``TreatMissingData``, and the reason and reason data CloudWatch writes.

Known difference: CloudWatch looks back over a longer "evaluation range" when datapoints are
missing; here the evaluated periods are exactly the last ``EvaluationPeriods``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from localcloud import metric_math
from localcloud.alarm_reasons import Datapoint, reason_data, threshold_crossed, unknown, value
from localcloud.metric_math import Kind, MetricMathError, Node, Series
from localcloud.metric_statistics import (
    STATISTICS,
    MetricData,
    MetricKey,
    is_percentile,
    metric_key,
    period_statistic,
    sample_count,
)

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
_MISSING_AS = {"breaching": "Breaching", "notBreaching": "NonBreaching"}


class UnsupportedAlarmError(ValueError):
    """An alarm the local cloud cannot evaluate (ill-formed, or beyond what it evaluates); ``token`` names why."""

    def __init__(self, token: str, why: str) -> None:
        super().__init__(f"the local cloud cannot evaluate {token!r}: {why}")
        self.token = token


@dataclass(frozen=True)
class _Metric:
    key: MetricKey
    stat: str
    unit: str | None


@dataclass(frozen=True)
class Plan:
    """What an alarm watches: its metrics and expressions by id, the id it compares, their period."""

    period: int
    metrics: dict[str, _Metric]
    expressions: dict[str, Node]
    returned: str

    def series(self, data: MetricData, starts: Sequence[datetime]) -> tuple[Series, dict[datetime, float]]:
        """The watched time series over the periods beginning at ``starts``; if it is a metric, its sample counts."""
        period = timedelta(seconds=self.period)
        values: dict[str, metric_math.Value] = {}
        counts: dict[str, dict[datetime, float]] = {}

        def value_of(query_id: str) -> metric_math.Value:
            if query_id not in values and query_id in self.metrics:
                values[query_id], counts[query_id] = _metric_series(self.metrics[query_id], data, starts, period)
            elif query_id not in values:
                values[query_id] = metric_math.evaluate(self.expressions[query_id], window)
            return values[query_id]

        window = metric_math.Window(starts, value_of, dict.fromkeys(self.metrics, self.period))
        watched = value_of(self.returned)
        assert isinstance(watched, dict)  # checked by plan()
        return watched, counts.get(self.returned, {})


def _metric_series(
    metric: _Metric, data: MetricData, starts: Sequence[datetime], period: timedelta
) -> tuple[Series, dict[datetime, float]]:
    """A metric's statistic per period (where it has data), and its sample count per period."""
    series: Series = {}
    counts: dict[datetime, float] = {}
    for start in starts:
        datums = data.between(metric.key, start, start + period, metric.unit)
        statistic = period_statistic(datums, metric.stat)
        if statistic is not None:
            series[start], counts[start] = statistic, sample_count(datums)
    return series, counts


def plan(alarm: Any) -> Plan:
    """The plan of a moto alarm; raises UnsupportedAlarmError for what the local cloud cannot evaluate."""
    if alarm.metric_data_queries:
        return _math_plan(alarm.metric_data_queries)
    if not alarm.metric_name:
        raise UnsupportedAlarmError("MetricName", "an alarm watches a metric (MetricName) or metric math (Metrics)")
    stat = alarm.statistic or alarm.extended_statistic
    _check_statistic(stat)
    metric = _Metric(metric_key(alarm.namespace, alarm.metric_name, alarm.dimensions), stat, alarm.unit)
    return Plan(int(alarm.period), {"m1": metric}, {}, "m1")


def _check_statistic(stat: str | None) -> None:
    if stat not in STATISTICS and not is_percentile(stat):
        raise UnsupportedAlarmError(
            str(stat), "not a statistic the local cloud computes (it computes " + ", ".join(STATISTICS) + " and pNN.NN)"
        )


def _math_plan(queries: Sequence[Any]) -> Plan:
    metrics: dict[str, _Metric] = {}
    expressions: dict[str, Node] = {}
    texts: dict[str, str] = {}
    periods = set()
    for query in queries:
        if not re.fullmatch(r"[a-z][A-Za-z0-9_]*", query.id or "") or query.id in metrics.keys() | expressions.keys():
            raise UnsupportedAlarmError(str(query.id), "an Id is unique and starts with a lower-case letter")
        if (query.metric_stat is None) == (query.expression is None):
            raise UnsupportedAlarmError(query.id, "each of the Metrics has either a MetricStat or an Expression")
        if query.metric_stat is not None:
            stat = query.metric_stat
            _check_statistic(stat.stat)
            metrics[query.id] = _Metric(
                metric_key(stat.metric.namespace, stat.metric.metric_name, stat.metric.dimensions), stat.stat, stat.unit
            )
            periods.add(int(stat.period))
        else:
            texts[query.id] = query.expression
            expressions[query.id] = _parsed(query.id, query.expression)
    returned = [query.id for query in queries if returns_data(query)]
    if len(returned) != 1:
        raise UnsupportedAlarmError("ReturnData", "exactly one of the Metrics returns data (the others say false)")
    if len(periods) != 1:
        raise UnsupportedAlarmError("Period", "an alarm's metrics all have one period")
    _check_kinds(metrics, expressions, texts, returned[0])
    return Plan(periods.pop(), metrics, expressions, returned[0])


def returns_data(query: Any) -> bool:
    """Whether one of an alarm's Metrics is the one it watches (ReturnData, true unless said false)."""
    return str(query.return_data).lower() != "false"


def _parsed(query_id: str, text: str) -> Node:
    try:
        return metric_math.parse(text)
    except MetricMathError as error:
        raise _in_expression(error, query_id, text) from error


def _in_expression(error: MetricMathError, query_id: str, text: str) -> UnsupportedAlarmError:
    return UnsupportedAlarmError(error.token, f"{error.why}, in expression {query_id} = {text}")


def _check_kinds(
    metrics: dict[str, _Metric], expressions: dict[str, Node], texts: dict[str, str], returned: str
) -> None:
    kinds: dict[str, Kind] = dict.fromkeys(metrics, "series")
    visiting: list[str] = []

    def kind(query_id: str) -> Kind:
        if query_id in kinds:
            return kinds[query_id]
        if query_id in visiting:
            raise UnsupportedAlarmError(query_id, "the expressions refer to each other in a cycle")
        visiting.append(query_id)
        node = expressions[query_id]
        known = {ref: kind(ref) for ref in metric_math.ids(node) if ref in kinds or ref in expressions}
        try:
            kinds[query_id] = metric_math.kind_of(node, known, list(metrics))
        except MetricMathError as error:
            raise _in_expression(error, query_id, texts[query_id]) from error
        visiting.remove(query_id)
        return kinds[query_id]

    for query_id in expressions:
        kind(query_id)
    if kind(returned) != "series":
        raise UnsupportedAlarmError(returned, f"an alarm watches one time series; this gives a {kind(returned)}")


def check(alarm: Any) -> Plan:
    """The alarm's plan, if the local cloud can evaluate the alarm; else UnsupportedAlarmError."""
    if alarm.threshold_metric_id:
        raise UnsupportedAlarmError(alarm.threshold_metric_id, "anomaly detection bands are not evaluated locally")
    if alarm.comparison_operator not in COMPARISONS:
        raise UnsupportedAlarmError(alarm.comparison_operator, "not a comparison the local cloud evaluates")
    if (alarm.treat_missing_data or "missing") not in TREATMENTS:
        raise UnsupportedAlarmError(alarm.treat_missing_data, "TreatMissingData is one of " + ", ".join(TREATMENTS))
    watched = plan(alarm)
    if alarm.metric_data_queries and alarm.evaluate_low_sample_count_percentile == "ignore":
        raise UnsupportedAlarmError(
            "EvaluateLowSampleCountPercentile", "the local cloud ignores low sample counts in single-metric alarms only"
        )
    return watched


@dataclass(frozen=True)
class Verdict:
    """The state an alarm should be in, with CloudWatch's reason and reason data (JSON)."""

    state: str
    reason: str
    reason_data: str


def evaluate(alarm: Any, data: MetricData, at: datetime) -> Verdict | None:
    """The state ``alarm`` should be in at the minute boundary ``at``; None to keep its state (missing data ignored)."""
    watched = plan(alarm)
    periods = int(alarm.evaluation_periods)
    period = timedelta(seconds=watched.period)
    starts = [at - (periods - index) * period for index in range(periods)]
    series, counts = watched.series(data, starts)
    # Newest first, as CloudWatch lists them.
    points = [Datapoint(start, series.get(start), counts.get(start)) for start in reversed(starts)]
    treatment = alarm.treat_missing_data or "missing"
    if _too_few_samples(alarm, points):
        return None
    if all(point.value is None for point in points) and treatment in ("missing", "ignore"):
        if treatment == "ignore":
            return None
        return Verdict("INSUFFICIENT_DATA", unknown(len(points)), _reason_data(alarm, watched, at, [], []))
    return _crossed(alarm, watched, at, points, treatment)


def _too_few_samples(alarm: Any, points: list[Datapoint]) -> bool:
    """Whether a percentile alarm that ignores low sample counts has a period with fewer than
    10/(1 - p) samples (p at least 0.5) or 10/p (below 0.5), and so keeps its state."""
    if alarm.evaluate_low_sample_count_percentile != "ignore" or not is_percentile(alarm.extended_statistic):
        return False
    fraction = float(alarm.extended_statistic[1:]) / 100
    if not 0 < fraction < 1:
        return False
    needed = 10 / (1 - fraction) if fraction >= 0.5 else 10 / fraction
    return any(point.sample_count is not None and point.sample_count < needed for point in points)


def _crossed(alarm: Any, watched: Plan, at: datetime, points: list[Datapoint], treatment: str) -> Verdict:
    compare, words = COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    present = [point for point in points if point.value is not None]
    treated = [point for point in points if point.value is None] if treatment in _MISSING_AS else []
    breaching = [point for point in present if compare(value(point), threshold)]
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    evaluated = [point for point in points if point in present or point in treated]
    if len(breaching) + (len(treated) if treatment == "breaching" else 0) >= needed:
        state, listed, minimum = "ALARM", breaching, needed
        missing = treated if treatment == "breaching" else []
    else:
        state, listed = "OK", [point for point in present if point not in breaching]
        minimum = int(alarm.evaluation_periods) - needed + 1
        missing = treated if treatment == "notBreaching" else []
    reason = threshold_crossed(
        state=state,
        listed=listed,
        missing=len(missing),
        missing_as=_MISSING_AS.get(treatment, ""),
        evaluated=len(evaluated),
        comparison=words,
        threshold=threshold,
        minimum=minimum,
    )
    return Verdict(state, reason, _reason_data(alarm, watched, at, present, evaluated))


def _reason_data(alarm: Any, watched: Plan, at: datetime, present: list[Datapoint], evaluated: list[Datapoint]) -> str:
    single = not alarm.metric_data_queries
    return reason_data(
        at=at,
        period=watched.period,
        threshold=float(alarm.threshold),
        statistic=(alarm.statistic or alarm.extended_statistic) if single else None,
        unit=alarm.unit if single else None,
        present=present,
        evaluated=evaluated,
    )


def _value(point: Datapoint) -> float:
    assert point.value is not None
    return point.value
