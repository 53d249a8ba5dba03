"""Checking CSV rows column by column gives exactly what checking them one by one gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schema import Rejection, csv_row, load_schema
from tests.unit.csv_rows import GOOD, SCHEMA, any_rows


def test_good_rows_get_the_lines_csv_row_writes() -> None:
    lines = SCHEMA.parse_rows([GOOD, ["1", "300", "310", "1500.0", "40", "12.0", "5"]])
    assert lines == ["0,298.1,308.6,1551.0,42.8,0,4.2\n", "1,300.0,310.0,1500.0,40.0,12,5.0\n"]


def test_rows_parse_row_would_not_accept_as_they_are_are_none() -> None:
    # Given a good row, a bad one, a blank one, a short one and a row of blank cells
    rows = [GOOD, [*GOOD[:4], "250", *GOOD[5:]], [], GOOD[:-1], [""] * 7, GOOD]
    # When they are checked column by column
    lines = SCHEMA.parse_rows(rows)
    # Then only the good rows have lines; parse_row says what is wrong with the others
    assert [line is not None for line in lines] == [True, False, False, False, False, True]


@settings(max_examples=300, deadline=None)
@given(st.lists(any_rows, max_size=12))
def test_column_by_column_agrees_with_row_by_row(rows: list[list[str]]) -> None:
    expected = []
    for row in rows:
        values = SCHEMA.parse_row(row)
        expected.append(None if isinstance(values, Rejection) else csv_row(values))
    assert SCHEMA.parse_rows(rows) == expected


def test_a_json_integer_past_float_range_is_rejected_not_raised() -> None:
    schema = load_schema("predictive_maintenance")
    record = dict.fromkeys(schema.columns, 1) | {schema.features[0].name: 10**400}
    rejection = schema.parse_record(record)
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("not-finite", schema.features[0].name)
