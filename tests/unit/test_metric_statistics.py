"""Per-period statistics follow CloudWatch's definitions, for published values and statistic sets alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

from localcloud.metric_statistics import MetricData, metric_key, period_statistic, sample_count

NOW = datetime(2026, 11, 26, 11, 3, tzinfo=UTC)
DIMENSIONS = [{"Name": "VariantName", "Value": "challenger"}]


def value(number: float, seconds: int = 0, unit: str | None = None) -> MetricDatum:
    return MetricDatum("AWS/SageMaker", "ModelLatency", number, DIMENSIONS, NOW + timedelta(seconds=seconds), unit)


def statistic_set(count: float, total: float, low: float, high: float) -> MetricAggregatedDatum:
    return MetricAggregatedDatum("AWS/SageMaker", "ModelLatency", low, high, count, total, DIMENSIONS, NOW)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("SampleCount", 5.0), ("Sum", 16.0), ("Average", 3.2), ("Minimum", 1.0), ("Maximum", 6.0), ("p50", None)],
)
def test_statistic_sets_count_in_every_statistic_but_percentiles(name: str, expected: float | None) -> None:
    datums = [value(1.0), value(3.0), statistic_set(count=3, total=12, low=2, high=6)]
    assert period_statistic(datums, name) == expected


def test_a_statistic_set_of_equal_values_has_percentiles() -> None:
    datums = [value(1.0), statistic_set(count=3, total=12, low=4, high=4)]
    assert period_statistic(datums, "p50") == 4.0
    assert sample_count(datums) == 4.0


def test_a_period_without_datapoints_has_no_statistic() -> None:
    assert period_statistic([], "Sum") is None


def test_a_period_holds_the_datums_from_its_start_up_to_its_end_of_its_unit() -> None:
    data = MetricData([value(1.0, 0), value(2.0, 59, "Microseconds"), value(3.0, 60), value(4.0, -1)])
    key = metric_key("AWS/SageMaker", "ModelLatency", [d for d in value(0).dimensions])
    assert [d.value for d in data.between(key, NOW, NOW + timedelta(minutes=1), None)] == [1.0, 2.0]
    assert [d.value for d in data.between(key, NOW, NOW + timedelta(minutes=1), "Microseconds")] == [2.0]
