"""A file's limits, MaxFileBytes and MaxFileRows: a file at a limit is accepted, one past it set aside with the
rule and a message naming the limit.

The data bucket (versioned, as template.yaml's DataBucket) and the ledger (on a table built from its
StateTable) are those of test_ingest_writes, in moto.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import upload_check
from upload_check import Discard, check_file

from conveyor.schema import Rejection
from tests.unit.functions import test_ingest_writes
from tests.unit.functions.test_ingest_writes import KEY, SCHEMA, DataBucket, good_lines, upload_body

# The data bucket and ledger fixture, shared with the tests of what ingestion writes
bucket = test_ingest_writes.bucket

ROWS = 40


def reasons(bucket: DataBucket, key: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = json.loads(bucket.read(key.replace("incoming/", "quarantine/") + ".error.json"))[
        "errors"
    ]
    return errors


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_file_of_exactly_max_file_bytes_is_accepted(bucket: DataBucket, gzipped: bool) -> None:
    # Given a file of N bytes (decompressed, for gzip), and a limit of N
    body = upload_body(good_lines(ROWS))
    key, stored = (KEY + ".gz", gzip.compress(body)) if gzipped else (KEY, body)
    # When it is ingested
    report = bucket.ingest(bucket.upload(stored, key=key), key=key, max_file_bytes=len(body))
    # Then its rows are counted
    assert (report.outcome, report.rows_accepted) == ("accepted", ROWS)
    assert bucket.ledger.counter().total_rows == ROWS


def test_a_file_one_byte_over_max_file_bytes_is_set_aside_unread(bucket: DataBucket) -> None:
    # Given a file of N + 1 bytes, and a limit of N
    body = upload_body(good_lines(ROWS))
    limit = len(body) - 1
    # When it is ingested
    report = bucket.ingest(bucket.upload(body), max_file_bytes=limit)
    # Then it is set aside as too large, without a row read
    assert (report.outcome, report.rows_in, report.rows_accepted) == ("quarantined", 0, 0)
    assert reasons(bucket, KEY) == [{"rule": "too-large", "message": f"file exceeds {limit} bytes"}]
    assert bucket.read("quarantine/uploads/machines.csv") == body
    assert bucket.every_version("datasets/") == []
    assert bucket.ledger.counter().total_rows == 0


def test_a_file_of_exactly_max_file_rows_is_accepted(bucket: DataBucket) -> None:
    # Given a file of N rows, and a limit of N
    body = upload_body(good_lines(ROWS))
    # When it is ingested
    report = bucket.ingest(bucket.upload(body), max_file_rows=ROWS)
    # Then every row is counted
    assert (report.outcome, report.rows_in, report.rows_accepted) == ("accepted", ROWS, ROWS)
    assert bucket.ledger.counter().total_rows == ROWS


def test_a_file_one_row_over_max_file_rows_is_set_aside_whole_at_that_row(bucket: DataBucket) -> None:
    # Given a file of N + 1 rows, and a limit of N
    body = upload_body(good_lines(ROWS + 1))
    # When it is ingested, even keeping good rows
    report = bucket.ingest(bucket.upload(body), max_file_rows=ROWS, row_error_policy="keep-good-rows")
    # Then the whole file is set aside, at its row N + 1 (the header is line 1), with nothing of it kept
    assert (report.outcome, report.rows_accepted) == ("quarantined", 0)
    assert reasons(bucket, KEY) == [
        {"rule": "too-many-rows", "message": f"file has more than {ROWS} rows", "line": ROWS + 2}
    ]
    assert bucket.read("quarantine/uploads/machines.csv") == body
    assert bucket.every_version("datasets/") == []
    assert bucket.ledger.counter().total_rows == 0


# Rows checked in one chunk, in chunks that end at the limit, and one at a time
CHUNKS = [upload_check.CHUNK_ROWS, ROWS // 2, 1]
# An upload's rows follow its header (line 1); Firehose's have none
HEADERS = {"upload": True, "stream": False}


@pytest.mark.parametrize("chunk_rows", CHUNKS)
@pytest.mark.parametrize("file", HEADERS)
@pytest.mark.parametrize(
    ("rows", "fatal"),
    [(ROWS, None), (ROWS + 1, ROWS + 1), (3 * ROWS, ROWS + 1)],
    ids=["at the limit", "one over", "far over"],
)
def test_the_row_limit_holds_however_rows_are_checked(
    file: str, chunk_rows: int, rows: int, fatal: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of N rows or more, a limit of N, and rows checked in chunks of some size
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", chunk_rows)
    body = upload_body(good_lines(rows), header=HEADERS[file])
    # When it is checked
    check = check_file(SCHEMA, body, has_header=HEADERS[file], max_rows=ROWS, rows=Discard())
    # Then N rows are all good; more are too many, at the line of row N + 1
    if fatal is None:
        assert (check.fatal, check.rows_in, check.rows_good) == (None, ROWS, ROWS)
    else:
        line = fatal + (1 if HEADERS[file] else 0)
        assert check.fatal == Rejection(rule="too-many-rows", message=f"file has more than {ROWS} rows", line=line)


def test_blank_lines_do_not_count_towards_max_file_rows() -> None:
    # Given a file of N rows with blank lines among them, and a limit of N
    lines = good_lines(ROWS)
    body = upload_body([*lines[:10], "", " ", *lines[10:], ""])
    # When it is checked
    check = check_file(SCHEMA, body, has_header=True, max_rows=ROWS, rows=Discard())
    # Then every row is counted, and none of the blank lines
    assert (check.fatal, check.rows_in, check.rows_good) == (None, ROWS, ROWS)
