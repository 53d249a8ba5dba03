"""Checking CSV rows column by column gives exactly what checking them one by one gives."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schema import FeatureSchema, Rejection, csv_row, load_schema
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


# A schema whose columns have no bounds, and a label no float holds exactly
UNBOUNDED = FeatureSchema.model_validate(
    {
        "name": "unbounded",
        "label": {"name": "label", "values": [0, 1, 2**60 + 1]},
        "features": [{"name": "reading", "type": "number"}, {"name": "count", "type": "integer"}],
    }
)
EDGES: list[Any] = [True, False, None, "1", [], {}, -0.0, 0.5, 1.0, math.nan, math.inf, -math.inf, 10**400]
EDGES += [2**53, 2**53 + 1, -(2**53) - 1, 2**60 + 1, 2**1023, 2**1023 - 1, 2.0**1023, sys.float_info.max]
LARGE_INTS = [2**53, 2**53 + 1, -(2**53) - 1, 2**1023 - 1, 2**1023, -(2**1023)]
json_values = st.one_of(st.sampled_from(EDGES), st.integers(), st.floats(), st.booleans())


def near(bound: float) -> st.SearchStrategy[Any]:
    """A value at or just beside a bound, as a float or an int."""
    return st.sampled_from([bound, math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf), int(bound) - 1])


def good_values(schema: FeatureSchema) -> st.SearchStrategy[dict[str, Any]]:
    columns = {schema.label.name: st.sampled_from(schema.label.values)}
    for spec in schema.features:
        low, high = spec.min if spec.min is not None else -1e300, spec.max if spec.max is not None else 1e300
        whole = st.integers(int(max(low, -(2**70))), int(min(high, 2**70)))
        columns[spec.name] = whole if spec.type == "integer" else whole | st.floats(low, high)
        # Values at the bounds, and the ints past which a float no longer holds an int whole or is infinite
        columns[spec.name] |= near(low) | near(high) | st.sampled_from(LARGE_INTS)
    return st.fixed_dictionaries(columns)


def json_records(schema: FeatureSchema) -> st.SearchStrategy[dict[str, Any]]:
    """Records of mostly good values, with a value or two changed, a field missing or one too many."""
    extra = st.one_of(json_values, st.dictionaries(st.text(max_size=4), json_values, max_size=2))
    changes = st.dictionaries(st.sampled_from([*schema.columns, "extra", "machine_id"]), extra, max_size=2)
    missing = st.sets(st.sampled_from(schema.columns), max_size=1)
    return st.builds(
        lambda good, changed, gone: {k: v for k, v in (good | changed).items() if k not in gone},
        good_values(schema),
        changes,
        missing,
    )


def rejecting(schema: FeatureSchema) -> FeatureSchema:
    """``schema`` with unknown fields rejected."""
    return FeatureSchema.model_validate(schema.model_dump() | {"unknown_fields": "reject"})


SCHEMAS = [SCHEMA, UNBOUNDED, rejecting(SCHEMA), rejecting(UNBOUNDED)]
SCHEMA_IDS = ["predictive_maintenance", "unbounded", "predictive_maintenance-reject", "unbounded-reject"]


@pytest.mark.parametrize("schema", SCHEMAS, ids=SCHEMA_IDS)
@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_a_json_record_gets_from_the_fast_path_what_the_column_checks_give(
    schema: FeatureSchema, data: st.DataObject
) -> None:
    record = data.draw(json_records(schema))
    values = schema.parse_record(record)
    checked = schema._check_record(record)
    if isinstance(checked, Rejection):
        assert values == checked
    else:
        assert not isinstance(values, Rejection)
        assert csv_row(values) == csv_row(checked)  # repr tells 1 from 1.0 and 0.0 from -0.0


def test_a_plain_record_takes_the_fast_path() -> None:
    record = dict(zip(SCHEMA.columns, [1, 298.1, 308.6, 1551, 42.8, 215, 4.2], strict=True))
    assert SCHEMA._plain_records(record) == [1, 298.1, 308.6, 1551.0, 42.8, 215, 4.2]


TELEMETRY = dict(zip(SCHEMA.columns, [1, 298.1, 308.6, 1551, 42.8, 215, 4.2], strict=True)) | {
    "machine_id": "press-7",
    "timestamp": "2026-11-26T12:00:00Z",
    "calibrated": True,
    "meta": {"site": "lyon", "firmware": [1, 2]},
}


def test_a_schema_ignores_unknown_fields_unless_it_says_otherwise() -> None:
    assert UNBOUNDED.unknown_fields == "ignore"
    assert rejecting(UNBOUNDED).unknown_fields == "reject"
    with pytest.raises(ValueError, match="unknown_fields"):
        FeatureSchema.model_validate(UNBOUNDED.model_dump() | {"unknown_fields": "drop"})


def test_unknown_fields_of_any_value_are_left_out_by_both_paths() -> None:
    # Given a record with a string, a bool and a nested object beside the schema's fields
    # When it is parsed, by the fast path and by the column checks
    # Then both give the schema's values alone
    expected = [1, 298.1, 308.6, 1551.0, 42.8, 215, 4.2]
    assert SCHEMA._plain_records(TELEMETRY) == expected
    assert SCHEMA._check_record(TELEMETRY) == expected
    assert SCHEMA.parse_record(TELEMETRY) == expected
    assert SCHEMA.unknown_field_names(TELEMETRY) == ["machine_id", "timestamp", "calibrated", "meta"]


def test_a_schema_that_rejects_unknown_fields_names_the_first_by_name() -> None:
    rejection = rejecting(SCHEMA).parse_record(TELEMETRY)
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("unknown-field", "calibrated")
    assert rejecting(SCHEMA)._plain_records(TELEMETRY) is None


def test_an_unknown_field_does_not_stand_in_for_a_missing_one() -> None:
    # Given a record with as many fields as the schema, one of them unknown in place of a feature
    record = {k: v for k, v in TELEMETRY.items() if k not in {"torque_nm", "timestamp", "calibrated", "meta"}}
    rejection = SCHEMA.parse_record(record)
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("missing-field", "torque_nm")
