"""Data drift: rows counted into the champion's cells as they arrive, and the index of what was counted.

The ledger's side (histograms added with parts, emptied with claims) is in test_ledger_drift.py; the
baseline fitted from training rows is in functions/test_evaluate_baseline.py.
"""

from __future__ import annotations

import math
import re

import pytest
from pydantic import BaseModel, ValidationError

from conveyor.drift import (
    SAMPLE_BYTES,
    Baseline,
    DriftCounter,
    FeatureBaseline,
    LabelBaseline,
    measure,
    psi,
    sample_every,
)
from conveyor.schema import LabelSpec, Layout

# The least share a cell is given in the index, written out so the expected values do not lean on the module.
FLOOR = 1e-4

# Cells: temperature (below 0, [0, 10), [10, 20], above 20), pressure (below 5, 5, above 5), label 0, label 1.
TEMPERATURE = FeatureBaseline(name="temperature", edges=[0.0, 10.0, 20.0], shares=[0.5, 0.5])
PRESSURE = FeatureBaseline(name="pressure", edges=[5.0, 5.0], shares=[1.0])
LABEL = LabelBaseline(name="failure", values=[0, 1], shares=[0.75, 0.25])


def baseline(**changes: object) -> Baseline:
    """The baseline of temperature and pressure, with ``changes``: made anew, as a copy would keep the cached id."""
    fields = {"run_id": "run-000001", "rows": 100, "features": [TEMPERATURE, PRESSURE], "label": LABEL}
    return Baseline.model_validate(fields | changes)


BASELINE = baseline()
LAYOUT = Layout(
    schema_name="machines",
    version="0123456789ab",
    label=LabelSpec(name="failure", values=[0, 1]),
    features=["temperature", "pressure"],
)


def counted(lines: list[str], layout: Layout = LAYOUT, counted_in: Baseline = BASELINE) -> list[int]:
    """The histogram of ``lines`` counted in one batch."""
    counter = DriftCounter(counted_in, layout)
    counter.add(lines)
    return counter.counts()


def cell_term(expected: float, actual: float) -> float:
    """One cell's part of the index, each share floored, as the formula reads."""
    e, a = max(expected, FLOOR), max(actual, FLOOR)
    return (a - e) * math.log(a / e)


# psi


def test_the_index_of_shares_equal_to_the_expected_ones_is_zero() -> None:
    assert psi([0.0, 0.25, 0.75, 0.0], [0.0, 0.25, 0.75, 0.0]) == 0.0


def test_the_index_sums_each_cells_difference_times_its_log_ratio() -> None:
    # Given shares moved from the first cell to the second
    # When their index is taken
    index = psi([0.5, 0.5], [0.25, 0.75])
    # Then it is (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5), which is 0.25 ln 3
    assert index == pytest.approx((0.25 - 0.5) * math.log(0.5) + (0.75 - 0.5) * math.log(1.5), rel=1e-12)
    assert index == pytest.approx(0.25 * math.log(3), rel=1e-12)


def test_an_empty_cell_counts_as_the_floor_share_so_the_index_stays_finite() -> None:
    # Given rows in a cell the training rows never reached (expected share 0)
    index = psi([0.0, 1.0], [0.5, 0.5])
    # Then that cell counts as a share of 1e-4, not 0
    assert index == pytest.approx((0.5 - FLOOR) * math.log(0.5 / FLOOR) + (0.5 - 1.0) * math.log(0.5), rel=1e-12)


def test_shares_under_the_floor_count_as_the_floor_on_both_sides() -> None:
    # Given a cell of 0 expected and 0.00005 actual: both under the floor, so equal
    index = psi([0.0, 1.0], [0.00005, 0.99995])
    # Then only the second cell adds to the index
    assert index == pytest.approx((0.99995 - 1.0) * math.log(0.99995), rel=1e-9)


def test_the_index_of_shares_of_different_lengths_is_refused() -> None:
    with pytest.raises(ValueError, match="zip"):
        psi([0.5, 0.5], [1.0])


# Baseline


def test_each_feature_has_a_cell_below_and_above_its_bins_and_each_label_value_one() -> None:
    assert (TEMPERATURE.cells, PRESSURE.cells) == (4, 3)
    assert BASELINE.cells == 4 + 3 + 2


def test_the_training_share_outside_the_training_range_is_zero() -> None:
    assert TEMPERATURE.expected() == [0.0, 0.5, 0.5, 0.0]
    assert PRESSURE.expected() == [0.0, 1.0, 0.0]


def test_the_last_bin_takes_the_training_maximum() -> None:
    assert TEMPERATURE.bounds == [0.0, 10.0, math.nextafter(20.0, math.inf)]
    assert PRESSURE.bounds == [5.0, math.nextafter(5.0, math.inf)]


def test_a_baseline_is_named_by_16_hex_digits_of_its_content() -> None:
    same = Baseline.model_validate_json(BASELINE.model_dump_json())
    assert re.fullmatch("[0-9a-f]{16}", BASELINE.id)
    assert same.id == BASELINE.id


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(baseline(run_id="run-000002"), id="another run"),
        pytest.param(baseline(rows=101), id="other rows"),
        pytest.param(
            baseline(
                features=[FeatureBaseline(name="temperature", edges=[0.0, 11.0, 20.0], shares=[0.5, 0.5]), PRESSURE]
            ),
            id="other edges",
        ),
        pytest.param(
            baseline(features=[TEMPERATURE, FeatureBaseline(name="pressure", edges=[5.0, 5.0], shares=[0.9])]),
            id="other shares",
        ),
        pytest.param(baseline(features=[TEMPERATURE]), id="fewer cells"),
        pytest.param(
            baseline(label=LabelBaseline(name="failure", values=[0, 1, 2], shares=[0.75, 0.25, 0.0])), id="more labels"
        ),
    ],
)
def test_a_baseline_with_other_bins_has_another_id(changed: Baseline) -> None:
    assert changed.id != BASELINE.id


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        pytest.param(BASELINE, "rows", 5, id="baseline"),
        pytest.param(TEMPERATURE, "edges", [1.0, 2.0], id="feature"),
        pytest.param(LABEL, "values", [0, 1, 2], id="label"),
    ],
)
def test_a_baseline_cannot_change_under_its_id_and_bounds(model: BaseModel, field: str, value: object) -> None:
    # Given a baseline whose id and bounds are derived once; when one of its fields is set, then it is refused
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model, field, value)


# measure

# Four rows: temperature 1 below, 2 in [0, 10), 1 in [10, 20]; pressure 2 below, 1 at 5, 1 above; labels 3 x 0, 1 x 1.
COUNTS = [1, 2, 1, 0, 2, 1, 1, 3, 1]
TEMPERATURE_PSI = cell_term(0.0, 0.25) + cell_term(0.5, 0.5) + cell_term(0.5, 0.25) + cell_term(0.0, 0.0)
PRESSURE_PSI = cell_term(0.0, 0.5) + cell_term(1.0, 0.25) + cell_term(0.0, 0.25)


def test_a_report_gives_each_features_shares_below_its_range_in_each_bin_and_above() -> None:
    report = measure(BASELINE, 4, COUNTS, threshold=0.2)
    assert [(f.name, f.shares) for f in report.features] == [
        ("temperature", [0.25, 0.5, 0.25, 0.0]),
        ("pressure", [0.5, 0.25, 0.25]),
    ]


def test_a_report_gives_the_share_of_each_features_values_outside_the_training_range() -> None:
    report = measure(BASELINE, 4, COUNTS, threshold=0.2)
    assert [f.outside_share for f in report.features] == [0.25, 0.75]


def test_a_report_gives_each_features_index_against_its_training_shares() -> None:
    report = measure(BASELINE, 4, COUNTS, threshold=0.2)
    assert [f.psi for f in report.features] == [round(TEMPERATURE_PSI, 6), round(PRESSURE_PSI, 6)]
    assert report.max_psi == round(PRESSURE_PSI, 6)


def test_a_report_gives_the_label_shares_and_their_index() -> None:
    # Given labels 2 x 0 and 2 x 1 where training had 3 in 4 of label 0
    counts = [*COUNTS[:7], 2, 2]
    report = measure(BASELINE, 4, counts, threshold=0.2)
    label = report.label
    assert (label.name, label.values, label.expected, label.shares) == ("failure", [0, 1], [0.75, 0.25], [0.5, 0.5])
    assert label.psi == round(cell_term(0.75, 0.5) + cell_term(0.25, 0.5), 6)


def test_a_report_names_its_baseline_its_rows_and_its_threshold() -> None:
    report = measure(BASELINE, 7, COUNTS, threshold=0.2)
    assert (report.baseline_id, report.baseline_run_id, report.rows, report.threshold) == (
        BASELINE.id,
        "run-000001",
        7,
        0.2,
    )


def test_shares_and_indexes_are_rounded_to_six_decimals() -> None:
    # Given thirds: temperature 1 below, 1 in each bin; labels 2 x 0 and 1 x 1
    report = measure(BASELINE, 3, [1, 1, 1, 0, 0, 3, 0, 2, 1], threshold=0.2)
    temperature = report.features[0]
    assert temperature.shares == [0.333333, 0.333333, 0.333333, 0.0]
    assert temperature.outside_share == 0.333333
    third = 1 / 3
    assert temperature.psi == round(cell_term(0.0, third) + 2 * cell_term(0.5, third), 6)
    assert report.label.shares == [0.666667, 0.333333]
    assert report.label.psi == round(cell_term(0.75, 2 * third) + cell_term(0.25, third), 6)


def test_drifted_features_are_those_past_the_threshold_most_drifted_first() -> None:
    # Given pressure drifted further than temperature, though it comes second
    assert PRESSURE_PSI > TEMPERATURE_PSI > 0.2
    # When measured against a threshold both exceed
    report = measure(BASELINE, 4, COUNTS, threshold=0.2)
    # Then both are drifted, pressure first
    assert report.drifted == ["pressure", "temperature"]


def test_an_index_equal_to_the_threshold_is_not_drift() -> None:
    report = measure(BASELINE, 4, COUNTS, threshold=round(TEMPERATURE_PSI, 6))
    assert report.drifted == ["pressure"]


def test_features_within_the_threshold_are_not_drifted() -> None:
    report = measure(BASELINE, 4, COUNTS, threshold=round(PRESSURE_PSI, 6) + 1)
    assert report.drifted == []


def test_a_baseline_cell_with_no_rows_has_a_share_of_zero() -> None:
    report = measure(BASELINE, 0, [0] * 9, threshold=0.2)
    assert [f.shares for f in report.features] == [[0.0] * 4, [0.0] * 3]
    assert [f.outside_share for f in report.features] == [0.0, 0.0]
    assert report.label.shares == [0.0, 0.0]


def test_a_baseline_without_features_has_no_drifted_feature_and_a_largest_index_of_zero() -> None:
    labels_only = baseline(features=[])
    report = measure(labels_only, 4, [3, 1], threshold=0.2)
    assert (report.features, report.drifted, report.max_psi) == ([], [], 0.0)
    assert report.label.psi == 0.0


@pytest.mark.parametrize("length", [8, 10])
def test_a_histogram_of_another_number_of_cells_is_refused(length: int) -> None:
    message = f"a histogram of baseline {BASELINE.id} has 9 counts, not {length}"
    with pytest.raises(ValueError, match=message):
        measure(BASELINE, 4, [1] * length, threshold=0.2)


# DriftCounter


def test_rows_are_counted_into_every_features_cells_then_each_label_value() -> None:
    # Given two rows, one of them inside both training ranges and one outside both
    lines = ["0,5.0,5.0\n", "1,25.0,4.0\n"]
    # Then the histogram has temperature's cells, pressure's, then labels 0 and 1
    assert counted(lines) == [0, 1, 0, 1, 1, 1, 0, 1, 1]


@pytest.mark.parametrize(
    ("temperature", "cell"),
    [
        pytest.param(math.nextafter(0.0, -math.inf), 0, id="just below the minimum"),
        pytest.param(0.0, 1, id="the minimum"),
        pytest.param(math.nextafter(10.0, -math.inf), 1, id="just below a decile"),
        pytest.param(10.0, 2, id="a decile"),
        pytest.param(20.0, 2, id="the maximum"),
        pytest.param(math.nextafter(20.0, math.inf), 3, id="just above the maximum"),
    ],
)
def test_a_value_is_counted_in_its_cell_the_training_range_taking_its_minimum_and_maximum(
    temperature: float, cell: int
) -> None:
    histogram = counted([f"0,{temperature!r},5.0"])
    assert histogram[:4] == [int(index == cell) for index in range(4)]


@pytest.mark.parametrize(
    ("pressure", "cell"),
    [
        pytest.param(math.nextafter(5.0, -math.inf), 0, id="just below"),
        pytest.param(5.0, 1, id="the training value"),
        pytest.param(math.nextafter(5.0, math.inf), 2, id="just above"),
    ],
)
def test_a_feature_of_one_training_value_has_one_bin_holding_that_value(pressure: float, cell: int) -> None:
    histogram = counted([f"0,5.0,{pressure!r}"])
    assert histogram[4:7] == [int(index == cell) for index in range(3)]


def test_features_are_found_by_name_whatever_the_layouts_order_and_other_features() -> None:
    # Given a layout with a feature the baseline does not know, and the baseline's two in another order
    layout = LAYOUT.model_copy(update={"features": ["humidity", "pressure", "temperature"]})
    # When a row is counted
    histogram = counted(["1,55.0,6.0,15.0"], layout)
    # Then temperature 15 is in its second bin and pressure 6 above its range; humidity is not counted
    assert histogram == [0, 0, 1, 0, 0, 0, 1, 0, 1]


def test_a_baseline_feature_the_layout_does_not_have_keeps_its_cells_empty() -> None:
    # Given a layout without pressure
    layout = LAYOUT.model_copy(update={"features": ["temperature"]})
    # When rows are counted
    histogram = counted(["0,5.0", "1,15.0"], layout)
    # Then temperature and the labels are counted, and pressure's cells are empty
    assert histogram == [0, 1, 1, 0, 0, 0, 0, 1, 1]


def test_a_baseline_feature_the_layout_does_not_have_is_not_drift() -> None:
    # Given rows of a layout without pressure, otherwise just like the training rows
    layout = LAYOUT.model_copy(update={"features": ["temperature"]})
    counter = DriftCounter(BASELINE, layout)
    counter.add(["0,5.0", "0,5.0", "0,15.0", "1,15.0"])
    # When their drift is measured
    report = measure(BASELINE, counter.rows, counter.counts(), threshold=0.2)
    # Then pressure, never counted, has an index of 0 ("that of no rows") and is not drifted
    assert report.features[1].psi == 0.0
    assert report.drifted == []


def test_a_label_value_the_baseline_never_saw_is_not_counted() -> None:
    histogram = counted(["0,5.0,5.0", "1,5.0,5.0", "2,5.0,5.0", "1.0,5.0,5.0"])
    # Label 2 has no cell; 1.0 is label 1
    assert histogram[7:] == [1, 2]


def test_rows_of_a_layout_without_features_are_counted_by_their_label() -> None:
    # Given a baseline and a layout of a label alone
    layout = LAYOUT.model_copy(update={"features": []})
    # When rows of a label alone are counted
    histogram = counted(["0\n", "1\n", "1\n"], layout, baseline(features=[]))
    # Then each is counted, by label
    assert histogram == [1, 2]


def test_every_row_is_counted_by_default() -> None:
    counter = DriftCounter(BASELINE, LAYOUT)
    counter.add(["0,5.0,5.0"] * 3)
    counter.add(["1,15.0,5.0"] * 2)
    assert counter.rows == 5
    assert counter.counts() == [0, 3, 2, 0, 0, 5, 0, 3, 2]


def test_a_batch_without_lines_counts_nothing() -> None:
    counter = DriftCounter(BASELINE, LAYOUT)
    counter.add([])
    assert counter.rows == 0
    assert counter.counts() == [0] * 9


def test_a_sample_counts_the_first_row_then_every_kth_across_batches() -> None:
    # Given a feature whose value n falls in cell n + 1, so each row's cell tells which row it was
    index = FeatureBaseline(name="index", edges=[float(n) for n in range(13)], shares=[1 / 12] * 12)
    layout = LAYOUT.model_copy(update={"features": ["index"]})
    counter = DriftCounter(baseline(features=[index]), layout, every=3)
    # When rows 0 to 11 arrive in batches of 4, 1, 2 and 5 rows (one batch shorter than the stride)
    rows = [f"{n % 2},{n}.0" for n in range(12)]
    for start, end in [(0, 4), (4, 5), (5, 7), (7, 12)]:
        counter.add(rows[start:end])
    # Then rows 0, 3, 6 and 9 are counted, and no other
    assert counter.rows == 4
    histogram = counter.counts()
    assert [n for n in range(12) if histogram[n + 1]] == [0, 3, 6, 9]
    assert histogram[-2:] == [2, 2]


@pytest.mark.parametrize(
    ("size", "every"),
    [
        pytest.param(0, 1, id="empty"),
        pytest.param(2 * SAMPLE_BYTES - 1, 1, id="just under twice the sample"),
        pytest.param(2 * SAMPLE_BYTES, 2, id="twice the sample"),
        pytest.param(3 * SAMPLE_BYTES - 1, 2, id="just under three times the sample"),
        pytest.param(3 * SAMPLE_BYTES, 3, id="three times the sample"),
        pytest.param(100 * SAMPLE_BYTES + 5, 100, id="a hundred times the sample"),
    ],
)
def test_a_file_of_twice_the_sample_or_more_has_one_row_in_size_over_the_sample_counted(size: int, every: int) -> None:
    assert sample_every(size) == every


def test_a_file_under_2_mib_is_counted_whole_and_a_larger_one_on_a_sample_of_about_1_mib() -> None:
    mib = 1024 * 1024
    assert (sample_every(2 * mib - 1), sample_every(2 * mib), sample_every(50 * mib)) == (1, 2, 50)
