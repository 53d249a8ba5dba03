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

from tests.unit.functions import test_ingest_writes
from tests.unit.functions.test_ingest_writes import KEY, DataBucket, good_lines, upload_body

# The data bucket and ledger fixture, shared with the tests of what ingestion writes
bucket = test_ingest_writes.bucket

STREAM_KEY = "incoming/stream/2026/11/26/conveyor-stream-1"
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


# Rows checked in one chunk, in chunks that end at the limit, and one at a time
CHUNKS = [upload_check.CHUNK_ROWS, ROWS // 2, 1]
# A file's rows: an upload's after its header, Firehose's without one
FILES = {"upload": (KEY, True, 1), "stream": (STREAM_KEY, False, 0)}


@pytest.mark.parametrize("chunk_rows", CHUNKS)
@pytest.mark.parametrize("file", FILES)
def test_a_file_of_exactly_max_file_rows_is_accepted(
    bucket: DataBucket, file: str, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of N rows, and a limit of N
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", chunk_rows)
    key, header, _ = FILES[file]
    # When it is ingested
    report = bucket.ingest(
        bucket.upload(upload_body(good_lines(ROWS), header=header), key=key), key=key, max_file_rows=ROWS
    )
    # Then every row is counted
    assert (report.outcome, report.rows_in, report.rows_accepted) == ("accepted", ROWS, ROWS)
    assert bucket.ledger.counter().total_rows == ROWS


@pytest.mark.parametrize("chunk_rows", CHUNKS)
@pytest.mark.parametrize("file", FILES)
def test_a_file_one_row_over_max_file_rows_is_set_aside_at_that_row(
    bucket: DataBucket, file: str, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of N + 1 rows, and a limit of N
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", chunk_rows)
    key, header, header_lines = FILES[file]
    body = upload_body(good_lines(ROWS + 1), header=header)
    # When it is ingested, even keeping good rows
    report = bucket.ingest(bucket.upload(body, key=key), key=key, max_file_rows=ROWS, row_error_policy="keep-good-rows")
    # Then the whole file is set aside, at its row N + 1, with nothing of it kept
    assert (report.outcome, report.rows_accepted) == ("quarantined", 0)
    assert reasons(bucket, key) == [
        {"rule": "too-many-rows", "message": f"file has more than {ROWS} rows", "line": header_lines + ROWS + 1}
    ]
    assert bucket.every_version("datasets/") == []
    assert bucket.ledger.counter().total_rows == 0


def test_blank_lines_do_not_count_towards_max_file_rows(bucket: DataBucket) -> None:
    # Given a file of N rows with blank lines among them, and a limit of N
    lines = good_lines(ROWS)
    body = upload_body([*lines[:10], "", " ", *lines[10:], ""])
    # When it is ingested
    report = bucket.ingest(bucket.upload(body), max_file_rows=ROWS)
    # Then every row is counted, and none of the blank lines
    assert (report.outcome, report.rows_in, report.rows_accepted) == ("accepted", ROWS, ROWS)
