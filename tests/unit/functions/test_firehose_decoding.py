"""The Firehose transform reading a record's data: each way a record fails to be JSON objects is set
aside with the reason its producer reads, never dropped or accepted."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from transform import transform_record

from tests.unit.functions.test_firehose_transform import (
    GOOD,
    GOOD_ROW,
    SCHEMA,
    b64,
    record,
    rows,
)

GOOD_JSON = json.dumps(GOOD).encode()
# A good record whose base64 ends in padding, so data can follow the padding
PADDED = b64(GOOD_JSON + b" ")
FIREHOSE_RECORD_BYTES = 1_000 * 1024
"""The largest record Firehose accepts from a producer; it refuses a larger one before the transform runs."""


def answered(data: str) -> dict[str, Any]:
    """What the transform answers for one record of base64 ``data``: its result and what its data holds."""
    outcome = transform_record(SCHEMA, record("r1", data))
    decoded = base64.b64decode(outcome.data, validate=True)
    return {"result": outcome.result, "data": json.loads(decoded) if outcome.result == "ProcessingFailed" else decoded}


def failed(data: str, **reason: Any) -> dict[str, Any]:
    """A failed record's answer: its reason and its data as sent."""
    return {"result": "ProcessingFailed", "data": {"reason": reason, "data": data}}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b64(GOOD_JSON)[:8] + "*" + b64(GOOD_JSON)[8:], id="a-character-outside-the-alphabet"),
        pytest.param(b64(GOOD_JSON)[:76] + "\n" + b64(GOOD_JSON)[76:], id="a-line-break"),
        pytest.param(" " + b64(GOOD_JSON), id="a-leading-space"),
        pytest.param(PADDED + "e30=", id="data-after-the-padding"),
        pytest.param("=" + PADDED, id="leading-padding"),
        pytest.param(PADDED.rstrip("="), id="missing-padding"),
        pytest.param(base64.urlsafe_b64encode(b'{"note": "?>"}').decode(), id="the-url-safe-alphabet"),
    ],
)
def test_a_record_that_is_not_strict_base64_fails_with_its_reason_and_data_as_sent(data: str) -> None:
    # Given a record whose data is corrupt base64, which lenient decoding would read as a good object or cut short
    # When it is decided
    # Then it fails, carrying the reason and the data exactly as sent: never Dropped, never accepted
    assert answered(data) == failed(data, rule="encoding", message="record data is not base64")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"hello", "record is not JSON: Expecting value", id="text"),
        pytest.param(GOOD_JSON[:-1], "record is not JSON: Expecting ',' delimiter", id="cut-short"),
        pytest.param(GOOD_JSON + GOOD_JSON, "record is not JSON: Extra data", id="two-objects-on-one-line"),
        pytest.param(b"{'torque_nm': 42.8}", "record is not JSON: Expecting property name enclosed in double quotes"),
    ],
)
def test_a_record_that_is_not_json_fails_with_the_parsers_reason(raw: bytes, message: str) -> None:
    assert answered(b64(raw)) == failed(b64(raw), rule="json", message=message)


def test_a_record_that_is_not_utf8_fails_with_its_reason() -> None:
    # Given a good record but for a Latin-1 "é" in a field the schema does not name
    data = b64(json.dumps(GOOD | {"site": "Sète"}, ensure_ascii=False).encode("latin-1"))
    # When it is decided, then it fails as not UTF-8
    assert answered(data) == failed(data, rule="encoding", message="record is not UTF-8")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[1, 2]", "list"), (b'"298.1"', "str"), (b"42", "int"), (b"true", "bool"), (b"null", "NoneType")],
    ids=["array", "string", "number", "boolean", "null"],
)
def test_json_that_is_not_an_object_fails_even_null(raw: bytes, kind: str) -> None:
    # A JSON null is not an empty record: it fails like any other document that is not an object
    data = b64(raw)
    assert answered(data) == failed(data, rule="not-object", message=f"expected a JSON object, got {kind}")


@pytest.mark.parametrize("raw", [b"", b"\n", b" \t\r\n \n"], ids=["no-data", "a-newline", "blank-lines"])
def test_an_empty_record_is_dropped_as_sent_with_nothing_set_aside(raw: bytes) -> None:
    outcome = transform_record(SCHEMA, record("r1", b64(raw)))
    assert (outcome.result, outcome.data, outcome.entries()) == ("Dropped", b64(raw), [])


def test_an_accepted_record_has_nothing_set_aside() -> None:
    outcome = transform_record(SCHEMA, record("r1", b64(GOOD_JSON)))
    assert (outcome.result, rows(outcome.data), outcome.entries()) == ("Ok", [GOOD_ROW], [])


def test_a_pretty_printed_object_is_one_record_not_several_lines() -> None:
    assert answered(b64(json.dumps(GOOD, indent=2).encode())) == {"result": "Ok", "data": GOOD_ROW.encode()}


def test_a_pretty_printed_object_that_is_not_json_is_read_line_by_line_and_fails_at_its_first() -> None:
    # Given an object over several lines with a trailing comma: not one JSON document, so each line is an object
    data = b64(json.dumps(GOOD, indent=2).encode()[:-2] + b",\n}")
    # Then the record fails with its first line's reason, which names the line
    assert answered(data) == failed(
        data, rule="json", message="object is not JSON: Expecting property name enclosed in double quotes", line=1
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"hello", {"rule": "json", "message": "object is not JSON: Expecting value"}),
        ('{"site": "Sète"}'.encode("latin-1"), {"rule": "encoding", "message": "object is not UTF-8"}),
        (b"[1, 2]", {"rule": "not-object", "message": "expected a JSON object, got list"}),
        (b"null", {"rule": "not-object", "message": "expected a JSON object, got NoneType"}),
    ],
    ids=["not-json", "not-utf8", "array", "null"],
)
def test_an_object_of_several_that_cannot_be_read_is_set_aside_with_its_line_and_the_rest_kept(
    line: bytes, reason: dict[str, Any]
) -> None:
    # Given a record of a good object, then a bad one on line 2
    outcome = transform_record(SCHEMA, record("r1", b64(GOOD_JSON + b"\n" + line + b"\n")))
    # Then the record is Ok with the good object's row, and the bad object's entry names its place and reason
    assert (outcome.result, rows(outcome.data)) == ("Ok", [GOOD_ROW])
    assert outcome.entries() == [
        {"record_id": "r1", "index": 1, "line": 2, "reason": reason | {"line": 2}, "data": b64(line)}
    ]


def test_a_record_of_objects_as_large_as_firehose_allows_is_a_row_per_object_and_a_smaller_answer() -> None:
    # Given a record of a hundred objects with a long field the schema does not name, near Firehose's largest record
    raw = b"".join([json.dumps(GOOD | {"note": "x" * 10_000}).encode() + b"\n"] * 100)
    assert len(raw) <= FIREHOSE_RECORD_BYTES
    # When it is decided (the transform sets no size limit of its own)
    outcome = transform_record(SCHEMA, record("r1", b64(raw)))
    # Then every object is a row, and the answer is smaller than the data sent
    assert (outcome.result, rows(outcome.data)) == ("Ok", [GOOD_ROW] * 100)
    assert len(outcome.data) < len(b64(raw)) // 100


def test_a_record_as_large_as_firehose_allows_that_is_not_json_fails_carrying_all_its_data() -> None:
    data = b64(b"x" * FIREHOSE_RECORD_BYTES)
    assert answered(data) == failed(data, rule="json", message="record is not JSON: Expecting value")
