"""Metadata fields: values a schema keeps beside each row (a device id, an event time), never features."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.schema import (
    CheckedRows,
    CsvColumns,
    FeatureSchema,
    ParsedRow,
    Rejection,
    load_schema,
    metadata_row,
    newest_event_time,
)

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


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_event_time_is_empty_as_a_missing_one_is(value: str) -> None:
    assert TELEMETRY.record_row(RECORD | {"event_time": value}) == f"{ROW},,\n"


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        (" 2026-11-26T20:00:00Z ", "2026-11-26T20:00:00Z"),
        ("1795723200.25", "2026-11-26T20:00:00.250000Z"),
        (0, "1970-01-01T00:00:00Z"),
        (-86400, "1969-12-31T00:00:00Z"),
        ("2026-11-26T20:00:00+00:00", "2026-11-26T20:00:00Z"),
    ],
)
def test_an_event_time_padded_fractional_or_at_the_epoch_is_read(value: Any, normalised: str) -> None:
    assert TELEMETRY.parse_metadata(RECORD | {"event_time": value}) == ["", normalised]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), "inf", "nan", "-1e300"])
def test_an_event_time_that_is_no_finite_time_is_rejected_saying_what_it_must_be(value: Any) -> None:
    rejection = TELEMETRY.parse_metadata(RECORD | {"event_time": value})
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.column, rejection.message) == (
        "event-time",
        "event_time",
        "event_time must be an ISO 8601 time or epoch seconds",
    )


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


def test_a_string_field_with_a_line_break_in_a_csv_row_is_rejected_with_its_line() -> None:
    rejection = TELEMETRY.csv_columns().parse_row([*CELLS, "press\n7", ""], line=6)
    assert isinstance(rejection, Rejection)
    assert (rejection.rule, rejection.line, rejection.column) == ("metadata", 6, "device_id")
    assert (rejection.value, rejection.message) == ("press\n7", "device_id must not hold a line break")


@pytest.mark.parametrize(("value", "kind"), [({"site": "lyon"}, "an object"), (["press", 7], "an array")])
def test_an_object_or_array_in_a_string_field_is_rejected_saying_which(value: Any, kind: str) -> None:
    rejection = TELEMETRY.parse_metadata(RECORD | {"device_id": value})
    assert isinstance(rejection, Rejection)
    assert rejection.message == f"device_id must be a string, number or boolean, not {kind}"
    assert rejection.value == json.dumps(value)


def test_a_schema_without_metadata_writes_the_row_alone_and_checks_rows_without_metadata() -> None:
    assert SHIPPED.record_row(RECORD | {"device_id": "press-7"}) == f"{ROW}\n"
    assert SHIPPED.parse_metadata(RECORD) == []
    assert SHIPPED.event_time_index is None
    assert SHIPPED.csv_columns().parse_rows([CELLS, CELLS[:-1]]) == CheckedRows([f"{ROW}\n", None])


def test_rows_with_metadata_but_no_event_time_have_empty_event_times() -> None:
    # Given a schema whose only metadata field is a string
    devices = FeatureSchema.model_validate(with_metadata({"name": "device_id"}))
    # When rows are checked together
    checked = devices.csv_columns().parse_rows([[*CELLS, "press-7"], [*CELLS, "a\nb"], CELLS])
    # Then the good row keeps its metadata, and no row has an event time
    assert checked == CheckedRows([f"{ROW}\n", None, None], ["press-7\n", None, None], ["", "", ""])


def test_rows_checked_together_keep_each_event_time_normalised_and_blank_for_a_bad_row() -> None:
    columns = TELEMETRY.csv_columns(["event_time"])
    checked = columns.parse_rows([[*CELLS, "1795723200"], [*CELLS, "never"], [*CELLS, ""]])
    assert checked.lines == [f"{ROW}\n", None, f"{ROW}\n"]
    assert checked.metadata == [",2026-11-26T20:00:00Z\n", None, ",\n"]
    assert checked.event_times == ["2026-11-26T20:00:00Z", "", ""]
    # Read afresh, so that this test finds the event time's position itself rather than reading a cached one
    assert FeatureSchema.model_validate(TELEMETRY.model_dump()).event_time_index == 1


def test_a_header_of_a_schema_without_metadata_must_be_its_columns() -> None:
    rejection = SHIPPED.read_header([*SHIPPED.columns[::-1]])
    assert isinstance(rejection, Rejection)
    assert rejection.message == f"header must be {','.join(SHIPPED.columns)}"
    assert rejection.value == ",".join(SHIPPED.columns[::-1])
    assert SHIPPED.read_header([*SHIPPED.columns, "device_id"]) == rejection.model_copy(
        update={"value": ",".join([*SHIPPED.columns, "device_id"])}
    )


def test_the_newest_event_time_leaves_out_empty_ones() -> None:
    times = ["2026-11-26T20:00:00Z", "", "2026-11-27T08:30:00Z", "2026-11-25T23:59:59Z"]
    assert newest_event_time(times) == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    assert newest_event_time(["", ""]) is None
    assert newest_event_time([]) is None
