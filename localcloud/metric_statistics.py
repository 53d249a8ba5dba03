"""CloudWatch statistics of metric data, per period, as alarms and GetMetricStatistics read them."""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, MetricDatumBase

STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)")

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]
"""A metric's identity: namespace, name and the whole set of its dimensions."""


def statistic(values: Sequence[float], name: str) -> float:
    """One CloudWatch statistic (Average, Sum, Minimum, Maximum, SampleCount or pNN.NN) of ``values``.

    A percentile is the nearest rank: the smallest value that at least NN % of the values do not
    exceed (the rank computed in decimal, so p99.9 of 1000 values is the 999th).
    """
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
    if _PERCENTILE.fullmatch(name):
        ordered = sorted(values)
        rank = math.ceil(Decimal(name[1:]) * len(ordered) / 100)
        return ordered[max(rank, 1) - 1]
    raise ValueError(f"not a statistic the local cloud computes: {name!r}")


def is_percentile(name: str | None) -> bool:
    return name is not None and _PERCENTILE.fullmatch(name) is not None


def period_statistic(datums: Sequence[MetricDatumBase], name: str) -> float | None:
    """Statistic ``name`` of one period's datums (values or statistic sets), or None where CloudWatch has none.

    A statistic set gives percentiles only when its values are known (one sample, or minimum = maximum).
    """
    samples = [_sample(datum) for datum in datums]
    if not samples:
        return None
    if is_percentile(name):
        values: list[float] = []
        for sample in samples:
            if sample.values is None:
                return None
            values.extend(sample.values)
        return statistic(values, name)
    count, total = sum(s.count for s in samples), sum(s.total for s in samples)
    if not count:
        return None
    computed = {
        "SampleCount": count,
        "Sum": total,
        "Average": total / count,
        "Minimum": min(s.low for s in samples),
        "Maximum": max(s.high for s in samples),
    }
    return computed[name]


@dataclass(frozen=True)
class _Sample:
    """One datum: a value, or a statistic set (whose values are known only if all are equal)."""

    count: float
    total: float
    low: float
    high: float
    values: list[float] | None


def _sample(datum: MetricDatumBase) -> _Sample:
    if isinstance(datum, MetricDatum):
        return _Sample(1.0, datum.value, datum.value, datum.value, [datum.value])
    assert isinstance(datum, MetricAggregatedDatum)
    count = float(datum.sample_count)
    values = [datum.min] * int(count) if datum.min == datum.max and count.is_integer() else None
    return _Sample(count, datum.sum, datum.min, datum.max, values)


def sample_count(datums: Sequence[MetricDatumBase]) -> float:
    """How many samples ``datums`` hold."""
    return sum(_sample(datum).count for datum in datums)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time (moto stores naive UTC times and aware ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class MetricData:
    """Every metric's datums, in time order, to find one period's quickly."""

    def __init__(self, data: Iterable[MetricDatumBase]) -> None:
        by_metric: dict[MetricKey, list[tuple[datetime, MetricDatumBase]]] = defaultdict(list)
        for datum in data:
            by_metric[metric_key(datum.namespace, datum.name, datum.dimensions)].append((utc(datum.timestamp), datum))
        self._times: dict[MetricKey, list[datetime]] = {}
        self._datums: dict[MetricKey, list[MetricDatumBase]] = {}
        for key, timed in by_metric.items():
            timed.sort(key=lambda pair: pair[0])
            self._times[key] = [moment for moment, _ in timed]
            self._datums[key] = [datum for _, datum in timed]

    def between(self, key: MetricKey, start: datetime, end: datetime, unit: str | None) -> list[MetricDatumBase]:
        """The datums of metric ``key`` timestamped in [start, end), of ``unit`` if one is given."""
        times = self._times.get(key, [])
        found = self._datums.get(key, [])[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
        return [datum for datum in found if unit is None or datum.unit == unit]


def metric_key(namespace: str, name: str, dimensions: Iterable[Any]) -> MetricKey:
    """A metric's identity, from its namespace, name and dimensions (moto's, with a name and a value)."""
    return namespace, name, frozenset((d.name, d.value) for d in dimensions)
