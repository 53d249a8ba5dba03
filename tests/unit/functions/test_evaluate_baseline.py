"""The drift baseline of a run's model: its training rows' deciles and label shares, in ingestion's cells."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from baseline import fit_baseline
from scoring import ChannelRows

from conveyor.drift import Baseline, DriftCounter, measure
from conveyor.schema import LabelSpec, Layout

LAYOUT = Layout(
    schema_name="machines",
    version="0123456789ab",
    label=LabelSpec(name="failure", values=[0, 1]),
    features=["temperature", "pressure"],
)
# 100 rows: each of 0, 1, ..., 9 ten times. Ten values: a bin for each.
TENTHS = np.repeat(np.arange(10.0), 10)
# 1000 rows of 0, 1, ..., 999: their deciles (99.9, 199.8, ...) fall between two values.
THOUSAND = np.arange(1000.0)


def rows(*columns: np.ndarray, labels: np.ndarray | None = None, layout: Layout = LAYOUT) -> ChannelRows:
    """Training rows of ``columns`` (one per feature of ``layout``), all labelled 0 unless ``labels`` are given."""
    features = np.column_stack(columns).astype(np.float64)
    return ChannelRows(
        layout=layout,
        labels=np.zeros(len(features)) if labels is None else labels.astype(np.float64),
        features=features,
    )


def csv_lines(training: ChannelRows) -> list[str]:
    """The rows as ingestion reads them: ``label,feature,...``, each feature's value in its exact text."""
    return [
        ",".join([str(int(label)), *map(repr, row.tolist())])
        for label, row in zip(training.labels, training.features, strict=True)
    ]


def test_a_features_edges_are_its_minimum_deciles_and_maximum() -> None:
    baseline = fit_baseline("run-000001", rows(THOUSAND, THOUSAND))
    temperature = baseline.features[0]
    assert temperature.name == "temperature"
    assert temperature.edges == pytest.approx(
        [0.0, 99.9, 199.8, 299.7, 399.6, 499.5, 599.4, 699.3, 799.2, 899.1, 999.0]
    )


def test_a_features_shares_are_those_of_its_rows_in_each_bin_and_sum_to_one() -> None:
    baseline = fit_baseline("run-000001", rows(THOUSAND, THOUSAND))
    shares = baseline.features[0].shares
    assert shares == [0.1] * 10
    assert sum(shares) == pytest.approx(1.0)


def test_repeated_deciles_are_one_edge() -> None:
    # Given pressure with 41 values, 0 in 60 rows of 100: the deciles up to the sixth are 0
    pressure = np.concatenate([np.zeros(60), np.arange(1.0, 41.0)])
    # When the baseline is fitted
    edges = fit_baseline("run-000001", rows(THOUSAND[:100], pressure)).features[1].edges
    # Then 0 is one edge, and the edges rise from there to the maximum
    assert edges[0] == 0.0
    assert edges[-1] == 40.0
    assert all(low < high for low, high in pairwise(edges))
    assert len(edges) < 11


def test_a_feature_of_few_values_has_a_bin_for_each_the_maximum_too() -> None:
    # Given ten values, ten rows each, and pressure half 1s and half 2s
    baseline = fit_baseline("run-000001", rows(TENTHS, np.repeat([1.0, 2.0], 50)))
    # Then each value has a bin of its own: the last edge repeats the maximum, which closes its bin alone
    temperature, pressure = baseline.features
    assert (temperature.edges, temperature.shares) == ([*np.arange(10.0).tolist(), 9.0], [0.1] * 10)
    assert (pressure.edges, pressure.shares) == ([1.0, 2.0, 2.0], [0.5, 0.5])


def test_a_shift_between_a_flags_two_values_is_drift() -> None:
    # Given a 0/1 flag set in a tenth of the training rows
    baseline = fit_baseline("run-000001", rows(TENTHS, np.repeat([0.0, 1.0], [90, 10])))
    # When rows arrive with the flag set in nine tenths of them
    counter = DriftCounter(baseline, LAYOUT)
    counter.add([f"0,{row % 10}.0,{flag!r}" for row, flag in enumerate([0.0] * 10 + [1.0] * 90)])
    # Then the flag has drifted
    assert measure(baseline, counter.rows, counter.counts(), 0.2).drifted == ["pressure"]


def test_a_feature_of_one_value_has_one_bin_holding_every_row() -> None:
    baseline = fit_baseline("run-000001", rows(TENTHS, np.full(100, 4.0)))
    assert (baseline.features[1].edges, baseline.features[1].shares) == ([4.0, 4.0], [1.0])


def test_the_training_rows_are_in_the_cells_ingestion_counts_them_in_none_outside_their_range() -> None:
    # Given training rows of varied values, some of them exactly on an edge (1001 rows: deciles are rows)
    generator = np.random.default_rng(7)
    training = rows(
        generator.normal(50.0, 10.0, 1001).round(1),
        generator.exponential(2.0, 1001),
        labels=generator.integers(0, 2, 1001),
    )
    baseline = fit_baseline("run-000001", training)
    # When ingestion counts the same rows, as CSV text, into the baseline's cells
    counter = DriftCounter(baseline, LAYOUT)
    counter.add(csv_lines(training))
    histogram = counter.counts()
    # Then no row is outside its feature's range, and each bin holds the baseline's share of them
    start = 0
    for feature in baseline.features:
        cells = histogram[start : start + feature.cells]
        start += feature.cells
        assert (cells[0], cells[-1]) == (0, 0)
        assert [round(count / 1001, 6) for count in cells[1:-1]] == feature.shares
    assert [round(count / 1001, 6) for count in histogram[start:]] == baseline.label.shares


def test_missing_values_are_left_out_of_a_features_bins() -> None:
    # Given the rows of TENTHS, and 20 more whose pressure is missing
    missing = np.full(20, np.nan)
    with_missing = rows(np.concatenate([TENTHS, np.arange(20.0)]), np.concatenate([TENTHS, missing]))
    # When the baseline is fitted
    baseline = fit_baseline("run-000001", with_missing)
    # Then pressure's bins are those of its 100 values
    assert baseline.features[1] == fit_baseline("run-000001", rows(TENTHS, TENTHS)).features[1]


def test_a_feature_no_training_row_has_is_left_out_of_the_baseline() -> None:
    # Given rows migrated from a schema without pressure: every value of it missing
    baseline = fit_baseline("run-000001", rows(TENTHS, np.full(100, np.nan)))
    # Then the baseline has temperature alone, and its cells are temperature's and the labels'
    assert [feature.name for feature in baseline.features] == ["temperature"]
    assert baseline.cells == 12 + 2


def test_the_label_shares_are_those_of_each_label_value_seen_or_not() -> None:
    # Given labels 0 in two rows of three, 1 in one, and 2 (a value of the layout) in none
    layout = LAYOUT.model_copy(update={"label": LabelSpec(name="failure", values=[0, 1, 2])})
    labels = np.array([0, 1, 0] * 10)
    # When the baseline is fitted
    baseline = fit_baseline("run-000001", rows(TENTHS[:30], TENTHS[:30], labels=labels, layout=layout))
    # Then each value has its share, rounded to six decimals
    assert (baseline.label.name, baseline.label.values) == ("failure", [0, 1, 2])
    assert baseline.label.shares == [0.666667, 0.333333, 0.0]


def test_a_baseline_names_its_run_and_its_training_rows() -> None:
    baseline = fit_baseline("run-000007", rows(TENTHS, TENTHS))
    assert (baseline.run_id, baseline.rows) == ("run-000007", 100)


def test_a_run_without_training_rows_has_a_baseline_of_no_features() -> None:
    empty = ChannelRows(layout=LAYOUT, labels=np.empty(0), features=np.empty((0, 2)))
    baseline = fit_baseline("run-000001", empty)
    assert baseline == Baseline.model_validate(
        {
            "run_id": "run-000001",
            "rows": 0,
            "features": [],
            "label": {"name": "failure", "values": [0, 1], "shares": [0.0, 0.0]},
        }
    )
