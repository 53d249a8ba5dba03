"""Metadata fields: values a schema keeps beside each row (a device id, an event time), never features."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schema import CsvColumns, FeatureSchema, ParsedRow, Rejection, load_schema, metadata_row

SHIPPED = load_schema("predictive_maintenance")
TELEMETRY = FeatureSchema.model_validate(
    SHIPPED.model_dump() | {"metadata": [{"name": "device_id"}, {"name": "event_time", "type": "event_time"}]}
)
RECORD = dict(zip(SHIPPED.columns, [1, 298.1, 308.6, 1551, 42.8, 215, 4.2], strict=True))
ROW = "1,298.1,308.6,1551.0,42.8,215,4.2"
CELLS = ["1", "298.1", "308.6", "1551", "42.8", "215", "4.2"]
VALUES = [1, 298.1, 308.6, 1551.0, 42.8, 215, 4.2]


def with_metadata(*specs: dict[str, Any]) -> dict[str, Any]:
    return SHIPPED.model_dump() | {"metadata": list(specs)}


# Schema


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([{"name": "torque_nm"}], "metadata field 'torque_nm' is named twice"),
        ([{"name": "failure_within_horizon"}], "metadata field 'failure_within_horizon' is named twice"),
        ([{"name": "device_id"}, {"name": "device_id", "type": "event_time"}], "'device_id' is named twice"),
        ([{"name": "at", "type": "event_time"}, {"name": "seen", "type": "event_time"}], "2 event_time fields"),
        ([{"name": "at", "type": "timestamp"}], "should be 'string' or 'event_time'"),
    ],
)
def test_a_schema_with_metadata_that_clashes_is_refused_with_what_to_fix(
    specs: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureSchema.model_validate(with_metadata(*specs))


def test_the_shipped_schema_keeps_its_version_and_has_no_metadata() -> None:
    # Every part written so far records this version: a schema without metadata must hash as it did
    assert SHIPPED.version == "3eed156498e2"
    assert SHIPPED.layout.metadata == []


def test_metadata_is_part_of_the_layout_and_of_the_version() -> None:
    assert TELEMETRY.layout.metadata == ["device_id", "event_time"]
    assert TELEMETRY.version != SHIPPED.version
    assert not TELEMETRY.layout.same_columns(SHIPPED.layout)
    assert TELEMETRY.layout.same_columns(TELEMETRY.model_copy(update={"description": "other"}).layout)


# JSON records


def test_metadata_fields_are_kept_in_schema_order_after_the_features() -> None:
    record = {"event_time": "2026-11-26T20:00:00Z", **RECORD, "device_id": "press-7", "site": "lyon"}
    assert TELEMETRY.record_row(record) == f"{ROW},press-7,2026-11-26T20:00:00Z\n"
    # And metadata fields are not unknown ones: only "site" is
    assert TELEMETRY.unknown_field_names(record) == ["site"]


def test_a_missing_metadata_field_is_empty() -> None:
    assert TELEMETRY.record_row(RECORD) == f"{ROW},,\n"
    assert TELEMETRY.record_row(RECORD | {"device_id": None}) == f"{ROW},,\n"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("press 7", "press 7"),
        (7, "7"),
        (7.5, "7.5"),
        (True, "true"),
        ('a,"b"', '"a,""b"""'),
    ],
)
def test_a_string_field_takes_any_json_scalar_as_its_text(value: Any, cell: str) -> None:
    assert TELEMETRY.record_row(RECORD | {"device_id": value}) == f"{ROW},{cell},\n"


@pytest.mark.parametrize("value", [{"site": "lyon"}, ["press", 7]])
def test_an_object_or_array_in_a_string_field_is_rejected(value: Any) -> None:
    rejection = TELEMETRY.record_row(RECORD | {"device_id": value})
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("metadata", "device_id")


@pytest.mark.parametrize("value", ["press\n7", "press\r7", "press\r\n"])
def test_a_line_break_in_a_string_field_is_rejected_as_it_would_shift_the_sidecar(value: str) -> None:
    rejection = TELEMETRY.record_row(RECORD | {"device_id": value})
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("metadata", "device_id")
    assert rejection.message == "device_id must not hold a line break"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("2026-11-26T20:00:00Z", "2026-11-26T20:00:00Z"),
        ("2026-11-26T21:00:00+01:00", "2026-11-26T20:00:00Z"),
        ("2026-11-26T20:00:00", "2026-11-26T20:00:00Z"),  # naive: UTC
        ("2026-11-26T20:00:00.250-00:30", "2026-11-26T20:30:00.250000Z"),
        ("2026-11-26", "2026-11-26T00:00:00Z"),
        (1795723200, "2026-11-26T20:00:00Z"),
        (1795723200.5, "2026-11-26T20:00:00.500000Z"),
        ("1795723200", "2026-11-26T20:00:00Z"),
    ],
)
def test_an_event_time_is_normalised_to_utc_with_a_z(value: Any, normalised: str) -> None:
    assert TELEMETRY.record_row(RECORD | {"event_time": value}) == f"{ROW},,{normalised}\n"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", True, 1e300, float("nan"), {"at": 1}, [1]])
def test_an_event_time_that_is_not_one_is_rejected_with_its_field_and_value(value: Any) -> None:
    rejection = TELEMETRY.record_row(RECORD | {"event_time": value})
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("event-time", "event_time")
    assert rejection.value == (value if isinstance(value, str) else json.dumps(value))


def test_a_schema_that_rejects_unknown_fields_takes_metadata_fields() -> None:
    rejecting = FeatureSchema.model_validate(TELEMETRY.model_dump() | {"unknown_fields": "reject"})
    assert rejecting.record_row(RECORD | {"device_id": "press-7"}) == f"{ROW},press-7,\n"
    rejection = rejecting.record_row(RECORD | {"device_id": "press-7", "site": "lyon"})
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column) == ("unknown-field", "site")


def test_a_feature_problem_comes_before_a_metadata_one() -> None:
    rejection = TELEMETRY.record_row(RECORD | {"torque_nm": -1, "event_time": "never"})
    assert isinstance(rejection, Rejection)
    assert rejection.column == "torque_nm"


# CSV rows


def test_a_header_may_name_any_metadata_columns_in_any_order() -> None:
    columns = TELEMETRY.read_header([*SHIPPED.columns, "event_time", "device_id"])
    assert isinstance(columns, CsvColumns)
    row = columns.parse_row([*CELLS, "2026-11-26T21:00:00+01:00", "press-7"], line=2)
    # The metadata comes back in schema order, the event time normalised
    assert row == ParsedRow(VALUES, ["press-7", "2026-11-26T20:00:00Z"])
    only_time = TELEMETRY.read_header([*SHIPPED.columns, "event_time"])
    assert isinstance(only_time, CsvColumns)
    assert only_time.parse_row([*CELLS, "1795723200"]) == ParsedRow(VALUES, ["", "2026-11-26T20:00:00Z"])
    assert TELEMETRY.read_header(SHIPPED.columns) == CsvColumns(TELEMETRY, ())


@pytest.mark.parametrize(
    "extra",
    [["site"], ["device_id", "device_id"], ["event_time", "device_id", "site"]],
    ids=["unknown", "twice", "more"],
)
def test_a_header_with_other_columns_is_refused_and_says_what_it_may_name(extra: list[str]) -> None:
    rejection = TELEMETRY.read_header([*SHIPPED.columns, *extra])
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.line) == ("header", 1)
    assert rejection.message.endswith("then any of the metadata columns device_id,event_time")


def test_a_headerless_row_has_every_metadata_column_in_schema_order() -> None:
    columns = TELEMETRY.csv_columns()
    assert columns.names[-2:] == ["device_id", "event_time"]
    assert columns.parse_row([*CELLS, "press-7", ""]) == ParsedRow(VALUES, ["press-7", ""])
    short = columns.parse_row(CELLS, line=4)
    assert isinstance(short, Rejection)
    assert (short.rule, short.line) == ("column-count", 4)


def test_a_bad_event_time_in_a_csv_row_is_rejected_with_its_line_column_and_value() -> None:
    rejection = TELEMETRY.csv_columns().parse_row([*CELLS, "press-7", "26/11/2026"], line=9)
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.line, rejection.column, rejection.value) == (
        "event-time",
        9,
        "event_time",
        "26/11/2026",
    )


metadata_texts = st.text(alphabet=st.sampled_from(["a", " ", ",", '"', "\n", "\r", "é"]), max_size=5)
event_cells = st.sampled_from(["", "2026-11-26T20:00:00Z", "2026-11-26T21:00:00+01:00", "1795723200", "later", " "])
rows = st.one_of(
    st.tuples(st.just(CELLS), metadata_texts, event_cells).map(lambda t: [*t[0], t[1], t[2]]),
    st.tuples(st.just(CELLS), metadata_texts).map(lambda t: [*t[0], t[1]]),
    st.tuples(st.just(["1", "298.1", "308.6", "1551", "-3", "215", "4.2"]), metadata_texts, event_cells).map(
        lambda t: [*t[0], t[1], t[2]]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, max_size=8), st.permutations(["device_id", "event_time"]), st.integers(0, 2))
def test_rows_checked_together_agree_with_rows_checked_one_by_one(
    batch: list[list[str]], order: list[str], named: int
) -> None:
    columns = TELEMETRY.csv_columns(order[:named])
    checked = columns.parse_rows(batch)
    assert checked.metadata is not None
    assert checked.event_times is not None
    for index, row in enumerate(batch):
        parsed = columns.parse_row(row)
        if isinstance(parsed, Rejection):
            assert checked.lines[index] is None
            continue
        assert checked.lines[index] == ",".join(map(repr, parsed.values)) + "\n"
        assert checked.metadata[index] == metadata_row(parsed.metadata)
        assert checked.event_times[index] == parsed.metadata[1]


@settings(max_examples=300, deadline=None)
@given(st.lists(metadata_texts, min_size=1, max_size=3))
def test_a_metadata_line_is_what_the_csv_module_writes_and_reads_back(texts: list[str]) -> None:
    written = io.StringIO()
    csv.writer(written, lineterminator="\n").writerow(texts)
    assert metadata_row(texts) == written.getvalue()
    assert next(csv.reader(io.StringIO(metadata_row(texts)))) == texts
