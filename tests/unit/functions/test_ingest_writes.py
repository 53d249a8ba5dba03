"""What ingestion leaves in the data bucket: each part's rows in their channel objects, and nothing of a file set aside.

The bucket is versioned as template.yaml's DataBucket is, and the ledger is on a table built from
its StateTable, both in moto.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle, islice
from typing import Any

import boto3
import pytest
import upload_check
from botocore.exceptions import ClientError
from ingestion import IngestReport, IngestSettings, ingest, ingest_object
from moto import mock_aws

from conveyor import aws, s3_streams
from conveyor.dataset import CHANNELS, channel_of
from conveyor.events import S3Object
from conveyor.schema import csv_row, load_schema
from conveyor.state.ledger import Ledger, Part
from conveyor_tools.synthetic import records
from localcloud.adapters.atomic_requests import serialized_requests
from localcloud.template import load_sam_template
from tests.conftest import TEMPLATE
from tests.unit.conftest import create_state_table

SCHEMA = load_schema("predictive_maintenance")
HEADER = ",".join(SCHEMA.columns)
BAD_ROW = "1,298.1,308.6,1551,-3,0,4.2"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BUCKET = "data"
KEY = "incoming/uploads/machines.csv"


def good_lines(count: int) -> list[str]:
    """``count`` good rows as an upload writes them (synthetic, so each is its own)."""
    return [",".join(str(record[column]) for column in SCHEMA.columns) for record in records(count)]


def upload_body(lines: list[str], *, header: bool = True) -> bytes:
    return ("\n".join([HEADER, *lines] if header else lines) + "\n").encode()


def as_part_rows(lines: list[str]) -> list[str]:
    """The good ones of ``lines`` as a part holds them (``csv_row``), in order."""
    parsed = {line: SCHEMA.parse_row(line.split(",")) for line in set(lines)}
    return [csv_row(values) for values in map(parsed.__getitem__, lines) if isinstance(values, list)]


@dataclass
class DataBucket:
    """The data bucket and the ledger, and ingestion's settings for them."""

    s3: Any
    ledger: Ledger
    settings: IngestSettings

    def upload(self, body: bytes, key: str = KEY) -> str:
        """Write ``body`` under ``key``: the version written."""
        version: str = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        return version

    def ingest(self, version: str, key: str = KEY, s3: Any = None, **settings: Any) -> IngestReport:
        """Deliver the Object Created event of ``version`` of ``key`` to ingestion."""
        size = self.s3.head_object(Bucket=BUCKET, Key=key, VersionId=version)["ContentLength"]
        return ingest_object(
            self.settings.model_copy(update=settings),
            SCHEMA,
            self.ledger,
            s3 or self.s3,
            key=key,
            version=version,
            size=size,
            now=NOW,
        )

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return body

    def etag(self, key: str) -> str:
        etag: str = self.s3.head_object(Bucket=BUCKET, Key=key)["ETag"]
        return etag

    def keys(self, prefix: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))

    def every_version(self, prefix: str) -> list[str]:
        """Every version and delete marker under ``prefix``, by key: what S3 still holds of it."""
        listing = self.s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
        return sorted(v["Key"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []))

    def unfinished_uploads(self) -> list[str]:
        return [u["Key"] for u in self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]

    def part(self, part_key: str) -> Part:
        [part] = [p for p in self.ledger.parts() if p.key == part_key]
        return part


@contextmanager
def data_bucket(feature_schema: str, min_new_rows: int) -> Iterator[tuple[Any, Ledger, IngestSettings]]:
    """The data bucket (versioned as template.yaml says), the ledger and ingestion's settings, in moto."""
    properties = load_sam_template(TEMPLATE)["Resources"]["DataBucket"]["Properties"]
    with mock_aws(), serialized_requests():
        ledger = Ledger(create_state_table())
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration=properties["VersioningConfiguration"])
        settings = IngestSettings(
            project_name="conveyor",
            stage="test",
            conveyor_version="0",
            state_table_name=ledger.table_name,
            data_bucket_name=BUCKET,
            feature_schema=feature_schema,
            retraining_state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:retraining",
            min_new_rows=min_new_rows,
            max_file_bytes=100_000_000,
            max_file_rows=1_000_000,
            row_error_policy="reject-file",
            validation_percent=20,
            test_percent=10,
        )
        yield s3, ledger, settings
    aws.client.cache_clear()


@pytest.fixture
def bucket() -> Iterator[DataBucket]:
    with data_bucket(SCHEMA.name, min_new_rows=1000) as (s3, ledger, settings):
        yield DataBucket(s3, ledger, settings)


def channel_rows(bucket: DataBucket, part: Part) -> dict[str, list[str]]:
    return {
        channel: bucket.read(found.key).decode().splitlines(keepends=True) for channel, found in part.channels.items()
    }


def expected_channels(part: Part, rows: list[str]) -> dict[str, list[str]]:
    """The part's rows by the channel ``channel_of`` gives each in the part's one object of the old layout."""
    expected: dict[str, list[str]] = {}
    for line, row in enumerate(rows):
        expected.setdefault(channel_of(part.key, line, 20, 10), []).append(row)
    return expected


@pytest.mark.parametrize("policy", ["reject-file", "keep-good-rows"])
def test_channel_objects_hold_exactly_the_rows_channel_of_assigns(
    bucket: DataBucket, policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 3000 rows, checked 500 at a time (under keep-good-rows, bad rows among them)
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 500)
    lines = good_lines(3000)
    if policy == "keep-good-rows":
        lines[10:3000:97] = [BAD_ROW] * len(lines[10:3000:97])
    # When the file is ingested
    report = bucket.ingest(bucket.upload(upload_body(lines)), row_error_policy=policy)
    # Then each channel object holds the rows channel_of puts there, counting good rows only, in file order
    assert report.part_key is not None
    part = bucket.part(report.part_key)
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))
    # And the ledger's part says what each object holds
    for found in part.channels.values():
        assert (found.rows, found.bytes) == (len(bucket.read(found.key).splitlines()), len(bucket.read(found.key)))
    assert part.rows == sum(found.rows for found in part.channels.values()) == len(as_part_rows(lines))
    assert bucket.keys("datasets/parts/") == sorted(found.key for found in part.channels.values())


def test_a_channel_without_rows_is_not_written(bucket: DataBucket) -> None:
    # Given a file of one row
    report = bucket.ingest(bucket.upload(upload_body(good_lines(1))))
    # Then its part has one channel object, the one its row belongs to
    assert report.part_key is not None
    part = bucket.part(report.part_key)
    assert list(part.channels) == [channel_of(part.key, 0, 20, 10)]
    assert len(bucket.keys("datasets/parts/")) == 1


def test_a_channel_larger_than_a_part_is_uploaded_in_parts_and_whole(
    bucket: DataBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given parts of S3's smallest size, and a file whose train rows fill more than one
    monkeypatch.setattr(s3_streams, "PART_BYTES", 5 << 20)
    lines = list(islice(cycle(good_lines(5000)), 260_000))
    # When it is ingested
    report = bucket.ingest(bucket.upload(upload_body(lines)))
    # Then the train object is a multipart upload of 2 parts (S3's ETag says so), and holds every row it should
    assert report.part_key is not None
    part = bucket.part(report.part_key)
    assert bucket.etag(part.channels["train"].key).endswith('-2"')
    assert not bucket.etag(part.channels["test"].key).endswith('-2"')
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))
    assert bucket.unfinished_uploads() == []


SET_ASIDE = {
    # A bad row at the end, under reject-file
    "bad row under reject-file": ([*good_lines(2000), BAD_ROW], "reject-file", 1_000_000, "min"),
    # Under keep-good-rows, rejected rows written all along, and not one good row
    "no good row left": ([f"{line},9" for line in good_lines(2000)], "keep-good-rows", 1_000_000, "column-count"),
    # One row too many, at the end
    "too many rows": (good_lines(2000), "keep-good-rows", 1999, "too-many-rows"),
}


@pytest.mark.parametrize("case", SET_ASIDE)
def test_a_file_set_aside_after_rows_were_written_leaves_nothing_written_behind(
    bucket: DataBucket, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, policy, max_rows, rule = SET_ASIDE[case]
    # Given small chunks and parts, so that rows are written, and uploads begun, long before the file ends
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 100)
    monkeypatch.setattr(s3_streams, "PART_BYTES", 1024)
    # When the file is ingested and set aside
    report = bucket.ingest(bucket.upload(upload_body(lines)), row_error_policy=policy, max_file_rows=max_rows)
    # Then nothing of its part or of its rejected rows is left, not even a version, nor an upload begun
    assert report.outcome == "quarantined"
    assert bucket.every_version("datasets/") == []
    assert bucket.unfinished_uploads() == []
    # And the file is in quarantine as it came, with the reason beside it
    assert bucket.every_version("quarantine/") == [
        "quarantine/uploads/machines.csv",
        "quarantine/uploads/machines.csv.error.json",
    ]
    assert bucket.read("quarantine/uploads/machines.csv") == upload_body(lines)
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.error.json"))
    assert document["errors"][0]["rule"] == rule


def test_rejected_rows_are_written_as_they_come_however_many(
    bucket: DataBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given parts of S3's smallest size, and a file with 6 MB of bad rows among good ones, checked 10 rows at a time
    monkeypatch.setattr(s3_streams, "PART_BYTES", 5 << 20)
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 10)
    monkeypatch.setattr(upload_check, "MAX_REPORTED_ERRORS", 10)
    bad = [f"0,298.1,308.6,1551,42.8,0,{'9' * 100_000}.{n}" for n in range(60)]
    lines = [row for pair in zip(good_lines(60), bad, strict=True) for row in pair]
    # When it is ingested under keep-good-rows
    report = bucket.ingest(bucket.upload(upload_body(lines)), row_error_policy="keep-good-rows")
    # Then every bad row is in the rejected rows file, uploaded in parts
    assert (report.outcome, report.rows_accepted, report.rows_set_aside) == ("partially-accepted", 60, 60)
    assert report.quarantine_key == "quarantine/uploads/machines.csv.rejected.csv"
    assert bucket.read(report.quarantine_key).decode().splitlines() == bad
    assert bucket.etag(report.quarantine_key).endswith('-2"')
    # And the reasons beside it keep the first 10, and count all 60
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.error.json"))
    assert [e["line"] for e in document["errors"]] == list(range(3, 23, 2))
    assert (document["errors_total"], document["errors_truncated"]) == (60, True)


class FailingQuarantine:
    """S3 that refuses writes under quarantine/ (a permission taken away), otherwise S3 itself."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._s3, name)

        def refused_under_quarantine(**request: Any) -> Any:
            if name != "get_object" and request.get("Key", "").startswith("quarantine/"):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, name)
            return call(**request)

        return refused_under_quarantine


def test_a_failure_after_the_channel_objects_were_written_takes_them_back(
    bucket: DataBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file with a bad row, whose rejected rows cannot be written
    monkeypatch.setattr(s3_streams, "PART_BYTES", 5 << 20)
    version = bucket.upload(upload_body([*good_lines(50), BAD_ROW]))
    # When it is ingested under keep-good-rows, the good rows' channel objects written first
    with pytest.raises(ClientError, match="AccessDenied"):
        bucket.ingest(version, s3=FailingQuarantine(bucket.s3), row_error_policy="keep-good-rows")
    # Then the channel objects are gone, the upload is still there, and nothing was recorded
    assert bucket.every_version("datasets/") == []
    assert bucket.keys("incoming/") == [KEY]
    assert not bucket.ledger.seen(bucket.ledger.object_id(BUCKET, KEY, version))
    # And the event's retry, once allowed, ingests the file once
    report = bucket.ingest(version, row_error_policy="keep-good-rows")
    assert (report.outcome, report.rows_accepted) == ("partially-accepted", 50)
    assert bucket.ledger.counter().total_rows == 50


def test_two_deliveries_of_one_event_at_once_add_the_part_once(bucket: DataBucket) -> None:
    # Given a file whose event is delivered twice, both deliveries running at once
    lines = good_lines(400)
    version = bucket.upload(upload_body(lines))
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: bucket.ingest(version), range(2)))
    # Then one accepted it, the other found it done, and the part's objects hold its rows once
    assert sorted(r.outcome for r in reports) == ["accepted", "duplicate"]
    assert bucket.ledger.counter().total_rows == 400
    [part] = bucket.ledger.parts()
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))
    # And a third delivery, later, changes nothing
    assert bucket.ingest(version).outcome == "duplicate"
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))


def test_the_same_bytes_again_under_the_key_keep_the_recorded_part_whole(bucket: DataBucket) -> None:
    # Given a file ingested, then written again with the same bytes (a retried write)
    body = upload_body(good_lines(300))
    first = bucket.ingest(bucket.upload(body))
    second = bucket.ingest(bucket.upload(body))
    # Then the second adds nothing, and the recorded part's objects are still there, whole
    assert (first.outcome, second.outcome) == ("accepted", "duplicate")
    assert bucket.ledger.counter().total_rows == 300
    part = bucket.part(first.part_key or "")
    assert sum(len(rows) for rows in channel_rows(bucket, part).values()) == 300
    assert set(part.channels) <= set(CHANNELS)


def test_stream_output_without_a_header_is_split_the_same_way(bucket: DataBucket) -> None:
    lines = good_lines(200)
    key = "incoming/stream/2026/11/26/conveyor-stream-1"
    report = bucket.ingest(bucket.upload(upload_body(lines, header=False), key=key), key=key)
    assert report.part_key is not None
    part = bucket.part(report.part_key)
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))


GZ_KEY = KEY + ".gz"


def channel_bytes(bucket: DataBucket, part: Part) -> dict[str, set[bytes]]:
    """Every version of each of the part's channel objects, by key: its bytes."""
    listing = bucket.s3.list_object_versions(Bucket=BUCKET, Prefix=part.key)
    found: dict[str, set[bytes]] = {}
    for version in listing.get("Versions", []):
        body = bucket.s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"]
        found.setdefault(version["Key"], set()).add(body.read())
    return found


@pytest.mark.parametrize("keys", [(GZ_KEY, KEY), (KEY, GZ_KEY)], ids=["gzip first", "plain first"])
def test_a_gzip_upload_is_the_part_its_uncompressed_twin_is_and_the_second_adds_no_rows(
    bucket: DataBucket, keys: tuple[str, str]
) -> None:
    # Given the same rows as machines.csv.gz and as machines.csv
    lines = good_lines(300)
    body = {KEY: upload_body(lines), GZ_KEY: gzip.compress(upload_body(lines))}
    # When both are uploaded to the stack, one after the other
    first, second = (bucket.ingest(bucket.upload(body[key], key=key), key=key) for key in keys)
    # Then they are one part: the second is a duplicate, and its rows are counted once
    assert (first.outcome, second.outcome) == ("accepted", "duplicate")
    assert first.part_key == second.part_key
    assert bucket.ledger.counter().total_rows == 300
    # And each channel object holds the part's rows, the same bytes whichever file wrote them
    part = bucket.part(first.part_key or "")
    assert channel_rows(bucket, part) == expected_channels(part, as_part_rows(lines))
    assert all(len(versions) == 1 for versions in channel_bytes(bucket, part).values())


def test_a_truncated_gzip_upload_is_quarantined_compressed_with_its_reason(bucket: DataBucket) -> None:
    truncated = gzip.compress(upload_body(good_lines(300)))[:-100]
    report = bucket.ingest(bucket.upload(truncated, key=GZ_KEY), key=GZ_KEY)
    assert report.outcome == "quarantined"
    assert bucket.every_version("datasets/") == []
    # The file set aside is the one uploaded, still gzip
    assert bucket.read("quarantine/uploads/machines.csv.gz") == truncated
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.gz.error.json"))
    assert document["errors"] == [
        {"rule": "gzip", "message": "file is not valid gzip: compressed data ends before the end of the stream"}
    ]


def test_a_gzip_upload_over_the_limit_decompressed_is_quarantined(bucket: DataBucket) -> None:
    # Given a gzip file within MaxFileBytes as it is stored, but not decompressed
    body = upload_body(good_lines(300))
    compressed = gzip.compress(body)
    report = bucket.ingest(bucket.upload(compressed, key=GZ_KEY), key=GZ_KEY, max_file_bytes=len(body) - 1)
    # Then it is too large
    assert report.outcome == "quarantined"
    assert bucket.every_version("datasets/") == []
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.gz.error.json"))
    assert document["errors"] == [
        {"rule": "too-large", "message": f"file exceeds {len(body) - 1} bytes once decompressed"}
    ]


def test_the_bad_rows_of_a_gzip_upload_are_set_aside_as_csv_text(bucket: DataBucket) -> None:
    # Given gzip of a file with bad rows on lines 3 and 5, under keep-good-rows
    lines = [good_lines(1)[0], BAD_ROW, *good_lines(1), BAD_ROW]
    upload = gzip.compress(upload_body(lines))
    report = bucket.ingest(bucket.upload(upload, key=GZ_KEY), key=GZ_KEY, row_error_policy="keep-good-rows")
    # Then its bad rows are written decompressed, with their lines in the CSV it holds
    assert (report.outcome, report.rows_accepted) == ("partially-accepted", 2)
    assert report.quarantine_key == "quarantine/uploads/machines.csv.gz.rejected.csv"
    assert bucket.read(report.quarantine_key) == f"{BAD_ROW}\n{BAD_ROW}\n".encode()
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.gz.error.json"))
    assert [e["line"] for e in document["errors"]] == [3, 5]


@pytest.fixture
def retraining(bucket: DataBucket) -> str:
    """The retraining state machine, in moto: its ARN."""
    definition = {"StartAt": "Train model", "States": {"Train model": {"Type": "Succeed"}}}
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="retraining", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/retraining"
    )["stateMachineArn"]
    return arn


def test_the_file_that_brings_pending_rows_to_min_new_rows_starts_a_run_on_every_part(
    bucket: DataBucket, retraining: str
) -> None:
    # Given MinNewRows of 300, and no limit on the rows a run trains on
    settings = bucket.settings.model_copy(update={"min_new_rows": 300, "retraining_state_machine_arn": retraining})
    # When a file of 200 rows arrives, then one of 100
    results = []
    for name, rows in [("first.csv", 200), ("second.csv", 100)]:
        key = f"incoming/uploads/{name}"
        body = upload_body(good_lines(rows))
        version = bucket.upload(body, key=key)
        upload = S3Object.model_validate({"key": key, "size": len(body), "version-id": version})
        results.append(ingest(settings, SCHEMA, bucket.ledger, upload, NOW))
    # Then each file's rows are accepted, and the second starts the first run
    assert [(r.key, r.outcome, r.rows_accepted, r.started_runs) for r in results] == [
        ("incoming/uploads/first.csv", "accepted", 200, []),
        ("incoming/uploads/second.csv", "accepted", 100, ["run-000001"]),
    ]
    # And the run trains on both parts, with no window nor row limit
    manifest = json.loads(bucket.read("datasets/snapshots/run-000001.json"))
    assert manifest["limits"] == {"training_window_days": 0, "max_training_rows": 0}
    assert sorted(part["rows"] for part in manifest["parts"]) == [100, 200]
    [execution] = boto3.client("stepfunctions").list_executions(stateMachineArn=retraining)["executions"]
    assert execution["name"] == "run-000001"


def test_an_object_written_while_versioning_was_off_is_read_as_version_null(bucket: DataBucket) -> None:
    # Given an object written while the bucket's versioning was suspended: its event names no version
    bucket.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    body = upload_body(good_lines(10))
    bucket.s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    # When its event is handled
    result = ingest(bucket.settings, SCHEMA, bucket.ledger, S3Object(key=KEY, size=len(body)), NOW)
    # Then the object is read, as version "null", and ingested once
    assert (result.outcome, result.rows_accepted) == ("accepted", 10)
    assert bucket.ledger.seen(bucket.ledger.object_id(BUCKET, KEY, "null"))
