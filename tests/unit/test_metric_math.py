"""Metric math evaluates as CloudWatch documents it, over one alarm window, and names what it cannot evaluate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.metric_math import (
    MetricMathError,
    UnsupportedExpressionError,
    Window,
    evaluate,
    kind_of,
    parse,
)

STARTS = [datetime(2026, 11, 26, 11, minute, tzinfo=UTC) for minute in range(5)]
MISSING = None


def series(*values: float | None) -> dict[datetime, float]:
    """A time series over the window's five periods; None is a period with no value."""
    return {start: float(value) for start, value in zip(STARTS, values, strict=False) if value is not None}


# The documentation's examples: metric1..3 under "Using IF expressions", a and b under
# "Comparison and logical operators".
METRICS = {
    "metric1": series(1, 1, 0, 0, MISSING),
    "metric2": series(30, MISSING, 0, 0, 30),
    "metric3": series(0, 0, 20, MISSING, 20),
    "a": series(30, 20, 0, 0),
    "b": series(20, MISSING, 20, MISSING),
}


def values(expression: str, metrics: dict[str, dict[datetime, float]] = METRICS) -> list[float | None]:
    """``expression`` evaluated over the window, one value (or None) per period."""
    node = parse(expression)
    assert kind_of(node, dict.fromkeys(metrics, "series"), list(metrics)) == "series"
    result = evaluate(node, Window(STARTS, metrics.__getitem__, dict.fromkeys(metrics, 60)))
    assert isinstance(result, dict)
    return [result.get(start) for start in STARTS]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("IF(metric1, metric2, metric3)", [30, 0, 20, None, None]),
        ("IF(metric1, 5, metric3)", [5, 5, 20, None, None]),
        ("IF(metric1, metric2, 5)", [30, 0, 5, 5, None]),
        ("a < b", [0, 0, 1, 0, None]),
        ("a >= 30", [1, 0, 0, 0, None]),
        ("a > 15 AND b > 15", [1, 0, 0, 0, None]),
    ],
)
def test_the_documented_examples(expression: str, expected: list[float | None]) -> None:
    assert values(expression) == expected


def test_between_two_time_series_a_missing_value_counts_as_zero() -> None:
    assert values("a + b") == [50, 20, 20, 0, None]


def test_a_division_by_zero_drops_the_point() -> None:
    assert values("a / b") == [1.5, None, 0, None, None]


def test_a_period_where_neither_side_has_data_has_no_value() -> None:
    assert values("metric2 - b")[4] == 30
    assert values("a - b")[4] is None


def test_with_a_number_a_time_series_keeps_its_own_points() -> None:
    assert values("b - 10") == [10, None, 10, None, None]


def test_arithmetic_binds_as_usual() -> None:
    # (b - 10) has no value where b has none, which a^2 + ... then counts as 0
    assert values("-a^2 + 2 * (b - 10) / 4") == [-895, -400, 5, 0, None]


def test_fill_gives_every_period_a_value() -> None:
    assert values("FILL(b, 0)") == [20, 0, 20, 0, 0]
    assert values("FILL(b, a)") == [20, 20, 20, 0, None]


def test_functions_of_arrays_are_taken_point_by_point() -> None:
    assert values("MAX([a, b])") == [30, 20, 20, 0, None]
    assert values("AVG([a, b])") == [25, 10, 10, 0, None]
    assert values("SUM(100 / [a, b])") == [8.333333333333334, 5, 5, None, None]


def test_a_canary_compares_error_rates_and_guards_against_no_traffic() -> None:
    # m1/m2: the challenger's errors and invocations; m3/m4: the champion's. In the fourth period
    # the challenger has no traffic (its sums are 0), in the last one neither has any (no datapoints).
    canary = {
        "m1": series(3, 0, 5, 0),
        "m2": series(10, 10, 20, 0),
        "m3": series(1, 0, 5, 0),
        "m4": series(10, 10, 20, 10),
    }
    assert values("(m1/m2) - (m3/m4)", canary) == [0.19999999999999998, 0, 0, 0, None]
    assert values("IF(m2 > 0 AND m4 > 0, m1/m2 - m3/m4, 0)", canary) == [0.19999999999999998, 0, 0, 0, None]
    assert values("FILL(m1, 0) / FILL(m2, 1) - FILL(m3, 0) / FILL(m4, 1)", canary) == [
        0.19999999999999998,
        0,
        0,
        0,
        0,
    ]


def test_period_is_a_metrics_period_in_seconds() -> None:
    assert values("a / PERIOD(a)") == [0.5, 1 / 3, 0, 0, None]


@pytest.mark.parametrize(
    ("expression", "token"),
    [
        ("LOG10(a)", "LOG10"),
        ('SUM(METRICS("errors"))', "METRICS"),
        ("FILL(a, REPEAT)", "REPEAT"),
        ("MAX(a)", "MAX"),
        ("ANOMALY_DETECTION_BAND(a, 2)", "ANOMALY_DETECTION_BAND"),
        ("[a, b] + [a, b]", "+"),
    ],
)
def test_what_the_local_cloud_does_not_evaluate_is_named(expression: str, token: str) -> None:
    with pytest.raises(UnsupportedExpressionError) as refused:
        kind_of(parse(expression), dict.fromkeys(METRICS, "series"), list(METRICS))
    assert refused.value.token == token


@pytest.mark.parametrize(
    ("expression", "token"),
    [("a +", "+"), ("a $ b", "$"), ("a b", "b"), ("unknown * 2", "unknown"), ("PERIOD(2)", "PERIOD")],
)
def test_what_is_not_metric_math_is_named(expression: str, token: str) -> None:
    with pytest.raises(MetricMathError) as refused:
        kind_of(parse(expression), dict.fromkeys(METRICS, "series"), list(METRICS))
    assert refused.value.token == token


def test_a_number_is_a_scalar_not_a_time_series() -> None:
    assert kind_of(parse("2 * (3 + 4)"), {}, []) == "scalar"


def test_the_window_is_minutes_apart() -> None:
    assert STARTS[1] - STARTS[0] == timedelta(minutes=1)


def test_rounding_functions_apply_to_each_point() -> None:
    assert values("CEIL(a / 7)") == [5, 3, 0, 0, None]
    assert values("FLOOR(a / 7)") == [4, 2, 0, 0, None]
    assert values("ABS(-a)") == [30, 20, 0, 0, None]


def test_an_undefined_power_drops_the_point() -> None:
    assert values("(a - 20) ^ -1") == [0.1, None, -0.05, -0.05, None]
    assert values("(a - 20) ^ 0.5") == [10**0.5, 0, None, None, None]


def test_a_number_divided_by_zero_leaves_no_points() -> None:
    assert values("a * (1 / 0)") == [None] * 5


def test_a_number_as_condition_chooses_a_whole_time_series() -> None:
    assert values("IF(2 > 1, a, b)") == [30, 20, 0, 0, None]
    assert values("IF(0, a)") == [None] * 5


def test_arrays_take_arithmetic_and_functions_element_by_element() -> None:
    assert values("SUM(-[a, b])") == [-50, -20, -20, 0, None]
    # b has no value in the second period: it counts as 0 there, as between two time series
    assert values("MIN(ABS([a, b] - 25))") == [5, 0, 5, 0, None]
