"""A file set aside: its copy in quarantine/, its rejected rows, the reasons report beside them, and each
handled once however many times its event arrives.

The data bucket (versioned, as template.yaml's DataBucket) and the ledger (on a table built from its
StateTable) are those of test_ingest_writes, in moto.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import upload_check
from botocore.exceptions import ClientError

from conveyor import s3_streams
from conveyor.state.items import from_item, key
from tests.unit.functions import test_ingest_writes
from tests.unit.functions.test_ingest_writes import (
    BAD_ROW,
    BUCKET,
    KEY,
    NOW,
    DataBucket,
    FailingQuarantine,
    as_part_rows,
    channel_rows,
    expected_channels,
    good_lines,
    upload_body,
)

# The data bucket and ledger fixture, shared with the tests of what ingestion writes
bucket = test_ingest_writes.bucket

COPY = "quarantine/uploads/machines.csv"
REASONS = "quarantine/uploads/machines.csv.error.json"
REJECTED = "quarantine/uploads/machines.csv.rejected.csv"
BAD_ROW_REASON = {
    "rule": "min",
    "message": "torque_nm must be at least 0",
    "column": "torque_nm",
    "value": "-3",
}
TOO_HOT = "0,298.1,308.6,1551,42.8,0,999"
TOO_HOT_REASON = {
    "rule": "max",
    "message": "vibration_mm_s must be at most 100",
    "column": "vibration_mm_s",
    "value": "999",
}


def reasons(bucket: DataBucket, key: str = REASONS) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(bucket.read(key))
    return document


def marker(bucket: DataBucket, version: str) -> dict[str, Any]:
    """What the ledger remembers of the upload's ``version``."""
    object_id = bucket.ledger.object_id(BUCKET, KEY, version)
    item = boto3.client("dynamodb").get_item(TableName=bucket.ledger.table_name, Key=key("object", object_id))
    return from_item(item["Item"])


def test_a_file_with_a_bad_row_under_reject_file_is_moved_aside_with_its_reasons(bucket: DataBucket) -> None:
    # Given a file whose third row is bad
    body = upload_body([*good_lines(2), BAD_ROW, *good_lines(1)])
    version = bucket.upload(body)
    # When it is ingested under reject-file
    report = bucket.ingest(version)
    # Then it is in quarantine as it came, and no longer under incoming/
    assert (report.outcome, report.rows_in, report.rows_accepted, report.rows_set_aside) == ("quarantined", 4, 0, 4)
    assert (report.part_key, report.quarantine_key, report.error_key) == (None, COPY, REASONS)
    assert bucket.read(COPY) == body
    assert bucket.keys("incoming/") == []
    assert bucket.every_version("datasets/") == []
    # And the reasons report says which file, when, under which policy, what became of its rows, and why
    assert reasons(bucket) == {
        "bucket": BUCKET,
        "key": KEY,
        "version_id": version,
        "quarantined_at": NOW.isoformat(),
        "row_error_policy": "reject-file",
        "outcome": "quarantined",
        "rows": {"in": 4, "accepted": 0, "set_aside": 4},
        "errors": [BAD_ROW_REASON | {"line": 4}],
        "errors_total": 1,
        "errors_truncated": False,
    }
    # And it is JSON for people to read, indented
    assert bucket.read(REASONS).decode() == json.dumps(reasons(bucket), indent=2)
    assert bucket.s3.head_object(Bucket=BUCKET, Key=REASONS)["ContentType"] == "application/json"
    # And the ledger remembers the file as set aside, and where, with no rows counted
    assert marker(bucket, version) | {"pk": "", "sk": ""} == {
        "pk": "",
        "sk": "",
        "outcome": "quarantined",
        "quarantine_key": COPY,
    }
    assert (bucket.ledger.counter().total_rows, bucket.ledger.parts()) == (0, [])


def test_a_file_level_problem_is_the_one_reason_reported_even_after_bad_rows(bucket: DataBucket) -> None:
    # Given a file with a bad row, then one row more than the limit
    body = upload_body([BAD_ROW, *good_lines(3)])
    # When it is ingested keeping good rows
    report = bucket.ingest(bucket.upload(body), row_error_policy="keep-good-rows", max_file_rows=3)
    # Then the whole file is set aside for having too many rows, the one reason given
    assert (report.outcome, report.quarantine_key) == ("quarantined", COPY)
    document = reasons(bucket)
    assert document["errors"] == [{"rule": "too-many-rows", "message": "file has more than 3 rows", "line": 5}]
    assert (document["errors_total"], document["errors_truncated"]) == (1, False)
    assert document["rows"] == {"in": 4, "accepted": 0, "set_aside": 4}
    assert bucket.read(COPY) == body
    assert bucket.every_version("quarantine/") == [COPY, REASONS]


@pytest.mark.parametrize(("bad_rows", "truncated"), [(3, False), (4, True)], ids=["at the limit", "one past it"])
def test_the_reasons_report_says_when_it_holds_only_the_first_reasons(
    bucket: DataBucket, bad_rows: int, truncated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given room for 3 reasons, and a file of good rows with 3 or 4 bad rows after them
    monkeypatch.setattr(upload_check, "MAX_REPORTED_ERRORS", 3)
    body = upload_body([*good_lines(2), *[BAD_ROW] * bad_rows])
    # When it is ingested
    bucket.ingest(bucket.upload(body))
    # Then the report holds the first 3 reasons at their lines, counts every bad row, and says if some were left out
    document = reasons(bucket)
    assert [error["line"] for error in document["errors"]] == [4, 5, 6]
    assert (document["errors_total"], document["errors_truncated"]) == (bad_rows, truncated)


def test_under_keep_good_rows_the_bad_rows_are_set_aside_and_the_good_ones_counted(bucket: DataBucket) -> None:
    # Given a file of 6 rows, the second and fifth bad
    lines = good_lines(4)
    body = upload_body([lines[0], BAD_ROW, lines[1], lines[2], TOO_HOT, lines[3]])
    version = bucket.upload(body)
    # When it is ingested keeping good rows
    report = bucket.ingest(version, row_error_policy="keep-good-rows")
    # Then the 4 good rows are a part, counted once
    assert (report.outcome, report.rows_in, report.rows_accepted, report.rows_set_aside) == (
        "partially-accepted",
        6,
        4,
        2,
    )
    assert report.part_key is not None
    part = bucket.part(report.part_key)
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))
    assert (part.rows, bucket.ledger.counter().total_rows) == (4, 4)
    # And the bad rows are in the rejected rows file, as they came and in file order; the file itself is not copied
    assert (report.quarantine_key, report.error_key) == (REJECTED, REASONS)
    assert bucket.read(REJECTED) == f"{BAD_ROW}\n{TOO_HOT}\n".encode()
    assert bucket.keys("quarantine/") == [REASONS, REJECTED]
    assert bucket.keys("incoming/") == []
    # And the reasons beside them give each bad row's line, and what became of the rows
    document = reasons(bucket)
    assert document["errors"] == [
        BAD_ROW_REASON | {"line": 3},
        TOO_HOT_REASON | {"line": 6},
    ]
    assert (document["outcome"], document["row_error_policy"]) == ("partially-accepted", "keep-good-rows")
    assert document["rows"] == {"in": 6, "accepted": 4, "set_aside": 2}
    assert (document["errors_total"], document["errors_truncated"]) == (2, False)


def test_under_keep_good_rows_a_file_without_a_bad_row_leaves_nothing_in_quarantine(bucket: DataBucket) -> None:
    # Given a file of good rows only, ingested keeping good rows
    report = bucket.ingest(bucket.upload(upload_body(good_lines(5))), row_error_policy="keep-good-rows")
    # Then it is accepted whole, and no rejected rows file nor reasons are written
    assert (report.outcome, report.rows_accepted) == ("accepted", 5)
    assert (report.quarantine_key, report.error_key) == (None, None)
    assert bucket.every_version("quarantine/") == []


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_the_same_event_twice_sets_the_file_aside_once(bucket: DataBucket, policy: str) -> None:
    # Given a file with a bad row, whose event is delivered twice, one delivery after the other
    version = bucket.upload(upload_body([*good_lines(3), BAD_ROW]))
    first = bucket.ingest(version, row_error_policy=policy)
    second = bucket.ingest(version, row_error_policy=policy)
    # Then the second finds it handled, and reports nothing set aside by it
    assert first.outcome in {"quarantined", "partially-accepted"}
    assert (second.outcome, second.rows_in, second.rows_accepted, second.rows_set_aside) == ("duplicate", 0, 0, 0)
    assert (second.quarantine_key, second.error_key) == (None, None)
    # And quarantine holds one copy (or one rejected rows file) and one reasons report, each written once
    assert bucket.every_version("quarantine/") == sorted([first.quarantine_key, REASONS])
    # And the upload was removed once, and its rows counted once (none under reject-file)
    assert bucket.every_version("incoming/") == [KEY, KEY]
    assert bucket.ledger.counter().total_rows == first.rows_accepted


def test_two_deliveries_at_once_of_a_bad_file_record_it_once(bucket: DataBucket) -> None:
    # Given a file with a bad row, whose event is delivered twice, both deliveries running at once
    body = upload_body([*good_lines(300), BAD_ROW])
    version = bucket.upload(body)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: bucket.ingest(version), range(2)))
    # Then one set it aside, the other found it done
    outcomes = sorted(report.outcome for report in reports)
    assert outcomes == ["duplicate", "quarantined"]
    # And quarantine holds the file as it came and its reasons, nothing is counted, and no part is left
    assert bucket.keys("quarantine/") == [COPY, REASONS]
    assert bucket.read(COPY) == body
    assert (bucket.ledger.counter().total_rows, bucket.ledger.parts()) == (0, [])
    assert bucket.every_version("datasets/") == []


def test_a_file_that_could_not_be_set_aside_is_left_for_the_retry(bucket: DataBucket) -> None:
    # Given a bad file, and quarantine/ refusing writes
    body = upload_body([*good_lines(3), BAD_ROW])
    version = bucket.upload(body)
    with pytest.raises(ClientError, match="AccessDenied"):
        bucket.ingest(version, s3=FailingQuarantine(bucket.s3))
    # Then the upload is still there and nothing is recorded
    assert bucket.keys("incoming/") == [KEY]
    assert not bucket.ledger.seen(bucket.ledger.object_id(BUCKET, KEY, version))
    # And the event's retry, once allowed, sets it aside
    assert bucket.ingest(version).outcome == "quarantined"
    assert bucket.read(COPY) == body
    assert bucket.keys("incoming/") == []


class RecordingS3:
    """S3 itself, keeping the key of every request made to it."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.keys: list[str] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._s3, name)

        def recorded(**request: Any) -> Any:
            self.keys.append(request.get("Key", ""))
            return call(**request)

        return recorded


def test_under_reject_file_no_row_is_written_after_a_bad_one(
    bucket: DataBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file whose first row is bad, then 300 good ones, checked a row at a time and written in small parts
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 1)
    monkeypatch.setattr(s3_streams, "PART_BYTES", 1024)
    version = bucket.upload(upload_body([BAD_ROW, *good_lines(300)]))
    # When it is ingested under reject-file
    s3 = RecordingS3(bucket.s3)
    report = bucket.ingest(version, s3=s3)
    # Then it is set aside without a request for the dataset: the rows after the bad one are not written
    assert report.outcome == "quarantined"
    assert [key for key in s3.keys if key.startswith("datasets/")] == []
