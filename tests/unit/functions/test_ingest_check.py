"""Upload validation: every bad file of the corpus is rejected with its exact reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import upload_check
from hypothesis import given, settings
from hypothesis import strategies as st
from upload_check import check_file

from conveyor.schema import FeatureSchema, load_schema
from tests.helpers import bad_input, bad_inputs
from tests.unit.csv_rows import CELLS, Collected, any_rows, good_rows

SCHEMA = load_schema("predictive_maintenance")
HEADER = ",".join(SCHEMA.columns)
GOOD = "0,298.1,308.6,1551,42.8,0,4.2"


@pytest.mark.parametrize("chunk_rows", [1, 2, upload_check.CHUNK_ROWS])
@pytest.mark.parametrize("case", bad_inputs("upload"))
def test_each_bad_upload_is_rejected_with_its_reason(
    case: dict[str, Any], chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", chunk_rows)
    rows = Collected()
    check = check_file(SCHEMA, bad_input(case["file"]), has_header=True, max_rows=5, rows=rows)
    reason = check.fatal or check.rejections[0]
    assert reason.model_dump(exclude_none=True, exclude={"message"}).items() >= case["expected"].items()
    # Nothing is lost: every data row is accepted or set aside
    assert check.rows_in == len(rows.good) + len(rows.bad) == check.rows_good + check.rows_bad or check.fatal


def test_a_valid_file_with_a_byte_order_mark_is_accepted() -> None:
    rows = Collected()
    check = check_file(SCHEMA, f"\ufeff{HEADER}\n{GOOD}\n{GOOD}\n".encode(), has_header=True, max_rows=5, rows=rows)
    assert (check.fatal, check.rejections, check.rows_in) == (None, [], 2)
    assert rows.good == ["0,298.1,308.6,1551.0,42.8,0,4.2\n"] * 2


def test_stream_output_has_no_header() -> None:
    check = check_file(SCHEMA, f"{GOOD}\n".encode(), has_header=False, max_rows=5)
    assert (check.fatal, check.rows_in, check.rows_good) == (None, 1, 1)


def test_blank_lines_are_not_rows() -> None:
    check = check_file(SCHEMA, f"{HEADER}\n\n{GOOD}\n\n".encode(), has_header=True, max_rows=5)
    assert (check.rows_in, check.rows_good) == (1, 1)


def test_every_bad_row_is_reported_with_its_line_and_handed_over_as_it_came() -> None:
    body = f"{HEADER}\n{GOOD}\n1,298.1,308.6,1551,-1,0,4.2\n{GOOD}\n5,298.1,308.6,1551,42.8,0,4.2\n".encode()
    rows = Collected()
    check = check_file(SCHEMA, body, has_header=True, max_rows=10, rows=rows)
    assert [(r.line, r.rule) for r in check.rejections] == [(3, "min"), (5, "label")]
    assert check.rows_in == len(rows.good) + len(rows.bad) == 4
    assert rows.bad == ["1,298.1,308.6,1551,-1,0,4.2", "5,298.1,308.6,1551,42.8,0,4.2"]


def test_reasons_are_kept_up_to_the_limit_and_every_bad_row_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file of 7 bad rows, and room for 3 reasons
    monkeypatch.setattr(upload_check, "MAX_REPORTED_ERRORS", 3)
    body = (HEADER + "\n" + "1,298.1,308.6,1551,-1,0,4.2\n" * 7).encode()
    # When it is checked
    rows = Collected()
    check = check_file(SCHEMA, body, has_header=True, max_rows=10, rows=rows)
    # Then the first 3 reasons are kept, and all 7 rows are counted and handed over
    assert [r.line for r in check.rejections] == [2, 3, 4]
    assert (check.rows_bad, len(rows.bad)) == (7, 7)


@pytest.mark.parametrize(
    ("bad_line", "expected_line"),
    [('0,"29"8,308.6,1551,42.8,0,4.2', 5), ('0,"298.1,308.6', 6)],
    ids=["stray quote", "quote left open"],
)
def test_a_csv_error_is_reported_at_its_line_after_the_rows_before_it(
    bad_line: str, expected_line: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given good rows, then a CSV error in a later chunk
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 2)
    body = f"{HEADER}\n{GOOD}\n{GOOD}\n{GOOD}\n{bad_line}\n{GOOD}\n".encode()
    # When the file is checked
    check = check_file(SCHEMA, body, has_header=True, max_rows=10)
    # Then the error has its line in the file, and the rows before it were counted
    assert check.fatal is not None
    assert (check.fatal.rule, check.fatal.line, check.rows_in) == ("csv", expected_line, 3)


def quoted(cells: list[str]) -> str:
    return ",".join(f'"{cell}"' for cell in cells)


lines = st.one_of(
    good_rows.map(",".join),
    any_rows.map(",".join),
    st.sampled_from([HEADER, HEADER.replace("torque_nm", "torque"), "", "  ", ",,,,,,"]),
    good_rows.map(quoted),
    # A quoted cell over two lines, a doubled quote, a quote left open
    st.sampled_from(['0,"298.1\n",308.6,1551,42.8,0,4.2', '0,"29""8",308.6,1551,42.8,0,4.2', '0,"298.1', *CELLS]),
)


def upload(bom: str, header: bool, rows: list[str], newline: str, last_newline: bool) -> bytes:
    text = newline.join([HEADER, *rows] if header else rows) + (newline if last_newline else "")
    return (bom + text).encode()


uploads = st.builds(
    upload,
    st.sampled_from(["", "\ufeff"]),
    st.booleans(),
    st.lists(lines, max_size=14),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(uploads, st.booleans(), st.integers(1, 10), st.integers(1, 4))
def test_chunks_checked_column_by_column_find_what_rows_checked_one_by_one_find(
    body: bytes, has_header: bool, max_rows: int, chunk_rows: int
) -> None:
    # Given any upload, checked in chunks of a few rows, column by column where a chunk allows
    rows, rows_one_by_one = Collected(), Collected()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(upload_check, "CHUNK_ROWS", chunk_rows)
        check = check_file(SCHEMA, body, has_header=has_header, max_rows=max_rows, rows=rows)
    # When the same upload is checked row by row alone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FeatureSchema, "parse_rows", lambda self, rows: [None] * len(rows))
        one_by_one = check_file(SCHEMA, body, has_header=has_header, max_rows=max_rows, rows=rows_one_by_one)
    # Then the verdicts are the same: rows, good lines, bad lines, every reason with its line
    assert (check, rows) == (one_by_one, rows_one_by_one)


def test_the_first_thousand_reasons_are_kept() -> None:
    # Given a file of 1001 bad rows
    body = (HEADER + "\n" + "1,298.1,308.6,1551,-1,0,4.2\n" * 1001).encode()
    # When it is checked
    check = check_file(SCHEMA, body, has_header=True, max_rows=2000)
    # Then the reasons of the first 1000 are kept, and all 1001 counted
    assert (len(check.rejections), check.rejections[-1].line, check.rows_bad) == (1000, 1001, 1001)


TELEMETRY = FeatureSchema.model_validate(
    SCHEMA.model_dump() | {"metadata": [{"name": "device_id"}, {"name": "event_time", "type": "event_time"}]}
)


def test_the_newest_event_time_is_the_good_rows_and_each_keeps_its_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given rows with their device and event time, the newest of them on a bad row, the last two without one,
    # checked two rows at a time
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 2)
    rows = [
        f"{GOOD},press-1,2026-11-25T10:00:00Z",
        f"{GOOD},press-2,2026-11-25T12:30:00+01:00",
        "1,298.1,308.6,1551,-1,0,4.2,press-3,2026-11-25T23:00:00Z",
        f"{GOOD},press-4,2026-11-25T09:00:00Z",
        f"{GOOD},press-5,",
        f"{GOOD},press-6,",
    ]
    body = "\n".join([f"{HEADER},device_id,event_time", *rows, ""]).encode()
    # When the file is checked
    found = Collected()
    check = check_file(TELEMETRY, body, has_header=True, max_rows=10, rows=found)
    # Then the newest event time is the newest good row's, normalised, and each good row keeps its metadata line
    assert check.newest_event_at == datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    assert found.metadata == [
        "press-1,2026-11-25T10:00:00Z\n",
        "press-2,2026-11-25T11:30:00Z\n",
        "press-4,2026-11-25T09:00:00Z\n",
        "press-5,\n",
        "press-6,\n",
    ]


SITES = FeatureSchema.model_validate(SCHEMA.model_dump() | {"metadata": [{"name": "site"}, {"name": "device_id"}]})


def test_the_first_row_is_read_with_the_columns_its_header_names() -> None:
    # Given a header naming the metadata columns in another order than the schema's, and rows that would be
    # good read in either order
    body = f"{HEADER},device_id,site\n{GOOD},press-1,lyon\n{GOOD},press-2,lyon\n".encode()
    # When the file is checked
    found = Collected()
    check_file(SITES, body, has_header=True, max_rows=10, rows=found)
    # Then each row's metadata is in the schema's order, the first row's too
    assert found.metadata == ["lyon,press-1\n", "lyon,press-2\n"]
