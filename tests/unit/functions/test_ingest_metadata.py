"""Metadata kept beside the rows: each channel object's sidecar line for line, the part's newest event
time, and a schema without metadata left as it was.

The bucket is versioned as template.yaml's DataBucket is, and the ledger is on a table built from
its StateTable, both in moto.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import upload_check
from ingestion import IngestReport, IngestSettings, ingest_object
from transform import TransformSettings, transform

from conveyor.dataset import channel_of
from conveyor.events import FirehoseTransformation
from conveyor.schema import FeatureSchema, Rejection, csv_row, load_schema
from conveyor.state.ledger import Ledger, Part
from conveyor_tools.synthetic import records
from tests.unit.functions.test_ingest_writes import data_bucket

SHIPPED = load_schema("predictive_maintenance")
TELEMETRY = FeatureSchema.model_validate(
    SHIPPED.model_dump() | {"metadata": [{"name": "device_id"}, {"name": "event_time", "type": "event_time"}]}
)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BUCKET = "data"
KEY = "incoming/uploads/machines.csv"
STREAM_KEY = "incoming/stream/2026/11/26/conveyor-stream-1"


def feature_cells(count: int) -> list[list[str]]:
    """``count`` good rows' label and feature cells, as an upload writes them (synthetic, so each is its own)."""
    return [[str(record[column]) for column in SHIPPED.columns] for record in records(count)]


def event_time(n: int) -> str:
    """A distinct event time per row, written with an offset, normalised to 2026-11-25T<hh>:<mm>:00Z."""
    return f"2026-11-25T{n // 60 % 24 + 1:02d}:{n % 60:02d}:00+01:00"


def normalised(n: int) -> str:
    return f"2026-11-25T{n // 60 % 24:02d}:{n % 60:02d}:00Z"


def csv_body(rows: list[list[str]], header: list[str] | None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class DataBucket:
    s3: Any
    ledger: Ledger
    settings: IngestSettings

    def ingest(self, body: bytes, schema: FeatureSchema, key: str = KEY, **settings: Any) -> IngestReport:
        """Write ``body`` under ``key`` and deliver its Object Created event to ingestion."""
        version = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        return ingest_object(
            self.settings.model_copy(update=settings),
            schema,
            self.ledger,
            self.s3,
            key=key,
            version=version,
            size=len(body),
            now=NOW,
        )

    def read(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())

    def keys(self, prefix: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))

    def every_version(self, prefix: str) -> list[str]:
        listing = self.s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
        return sorted(v["Key"] for v in listing.get("Versions", []) + listing.get("DeleteMarkers", []))

    def part(self, report: IngestReport) -> Part:
        [part] = [p for p in self.ledger.parts() if p.key == report.part_key]
        return part

    def rows_with_metadata(self, part: Part) -> list[tuple[str, list[str]]]:
        """Each row of the part's channel objects beside the line of the same number in its sidecar."""
        paired = []
        for found in part.channels.values():
            assert found.metadata_key is not None
            rows = self.read(found.key).splitlines(keepends=True)
            metadata = list(csv.reader(io.StringIO(self.read(found.metadata_key))))
            assert len(rows) == len(metadata) == found.rows
            paired += zip(rows, metadata, strict=True)
        return paired


@pytest.fixture
def bucket() -> Iterator[DataBucket]:
    with data_bucket("telemetry", min_new_rows=1_000_000) as (s3, ledger, settings):
        yield DataBucket(s3, ledger, settings)


def test_each_sidecar_describes_its_channel_object_row_for_row(
    bucket: DataBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 1000 rows, each with its own device and event time (one with a comma, one with none), checked 64 at a time
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 64)
    rows = [[*cells, f"press-{n}", event_time(n)] for n, cells in enumerate(feature_cells(1000))]
    rows[7][-2], rows[8][-1] = "press, 7", ""
    # When they are uploaded with both metadata columns
    report = bucket.ingest(csv_body(rows, [*SHIPPED.columns, "device_id", "event_time"]), TELEMETRY)
    # Then every row of every channel object has its own metadata on the same line of the sidecar
    assert report.outcome == "accepted"
    part = bucket.part(report)
    by_device = {metadata[0]: row for row, metadata in bucket.rows_with_metadata(part)}
    assert len(by_device) == 1000
    for n, cells in enumerate(rows):
        values = TELEMETRY.csv_columns().parse_row(cells)
        assert not isinstance(values, Rejection)
        device = "press, 7" if n == 7 else f"press-{n}"
        assert by_device[device] == csv_row(values.values)
    assert {tuple(m) for _, m in bucket.rows_with_metadata(part)} >= {("press-8", ""), ("press-9", normalised(9))}
    # And the sidecars are recorded beside their objects, under the part's folder
    assert sorted(bucket.keys("datasets/parts/")) == sorted(
        [found.key for found in part.channels.values()] + [str(f.metadata_key) for f in part.channels.values()]
    )
    assert {f.metadata_key for f in part.channels.values()} == {
        f"datasets/parts/{part.part_id}/{channel}.metadata.csv" for channel in part.channels
    }


def test_a_part_records_the_newest_event_time_of_its_rows(bucket: DataBucket) -> None:
    rows = [[*cells, "", event_time(n)] for n, cells in enumerate(feature_cells(300))]
    report = bucket.ingest(csv_body(rows, [*SHIPPED.columns, "device_id", "event_time"]), TELEMETRY)
    assert bucket.part(report).newest_event_at == datetime.fromisoformat(normalised(299))


def test_a_header_may_name_some_metadata_columns_in_any_order(bucket: DataBucket) -> None:
    # Given a file with the event time and no device id column
    rows = [[*cells, event_time(n)] for n, cells in enumerate(feature_cells(50))]
    report = bucket.ingest(csv_body(rows, [*SHIPPED.columns, "event_time"]), TELEMETRY)
    # Then the sidecars hold both fields in schema order, the device id empty
    assert report.outcome == "accepted"
    kept = sorted(metadata[1] for _, metadata in bucket.rows_with_metadata(bucket.part(report)))
    assert kept == sorted(normalised(n) for n in range(50))
    assert {metadata[0] for _, metadata in bucket.rows_with_metadata(bucket.part(report))} == {""}


def test_a_header_that_names_something_else_sets_the_file_aside(bucket: DataBucket) -> None:
    rows = [[*cells, "lyon"] for cells in feature_cells(5)]
    report = bucket.ingest(csv_body(rows, [*SHIPPED.columns, "site"]), TELEMETRY)
    assert report.outcome == "quarantined"
    document = json.loads(bucket.read("quarantine/uploads/machines.csv.error.json"))
    assert (document["errors"][0]["rule"], document["errors"][0]["line"]) == ("header", 1)


def test_a_bad_event_time_rejects_its_row_with_line_column_and_value(bucket: DataBucket) -> None:
    # Given a file whose fourth row has an event time that is none
    rows = [[*cells, "press", event_time(n)] for n, cells in enumerate(feature_cells(10))]
    rows[3][-1] = "26/11/2026"
    # When it is ingested keeping good rows
    report = bucket.ingest(
        csv_body(rows, [*SHIPPED.columns, "device_id", "event_time"]), TELEMETRY, row_error_policy="keep-good-rows"
    )
    # Then the row is set aside with its reason, and the other nine are kept with their metadata
    assert (report.outcome, report.rows_accepted, report.rows_set_aside) == ("partially-accepted", 9, 1)
    [error] = json.loads(bucket.read("quarantine/uploads/machines.csv.error.json"))["errors"]
    assert error | {"message": ""} == {
        "rule": "event-time",
        "message": "",
        "line": 5,
        "column": "event_time",
        "value": "26/11/2026",
    }
    assert len(bucket.rows_with_metadata(bucket.part(report))) == 9


def test_headerless_stream_rows_carry_every_metadata_column(bucket: DataBucket) -> None:
    rows = [[*cells, f"press-{n}", normalised(n)] for n, cells in enumerate(feature_cells(40))]
    report = bucket.ingest(csv_body(rows, header=None), TELEMETRY, key=STREAM_KEY)
    assert report.outcome == "accepted"
    kept = {metadata[0]: metadata[1] for _, metadata in bucket.rows_with_metadata(bucket.part(report))}
    assert kept == {f"press-{n}": normalised(n) for n in range(40)}


def test_a_stream_row_without_its_metadata_cells_is_rejected(bucket: DataBucket) -> None:
    report = bucket.ingest(csv_body(feature_cells(3), header=None), TELEMETRY, key=STREAM_KEY)
    assert report.outcome == "quarantined"
    document = json.loads(bucket.read("quarantine/stream/2026/11/26/conveyor-stream-1.error.json"))
    assert document["errors"][0]["rule"] == "column-count"


def test_a_file_set_aside_leaves_no_sidecar_behind(bucket: DataBucket) -> None:
    rows = [[*cells, "press", ""] for cells in feature_cells(200)]
    rows[-1][-1] = "never"
    report = bucket.ingest(csv_body(rows, [*SHIPPED.columns, "device_id", "event_time"]), TELEMETRY)
    assert report.outcome == "quarantined"
    assert bucket.every_version("datasets/") == []


def test_a_schema_without_metadata_writes_the_same_objects_and_no_sidecar(bucket: DataBucket) -> None:
    # Given a file of the shipped schema, without metadata
    rows = feature_cells(500)
    report = bucket.ingest(csv_body(rows, SHIPPED.columns), SHIPPED)
    # Then the part's objects are its channel objects alone, holding the rows channel_of assigns
    part = bucket.part(report)
    assert bucket.keys("datasets/parts/") == sorted(found.key for found in part.channels.values())
    expected: dict[str, str] = {}
    for line, cells in enumerate(rows):
        values = SHIPPED.parse_row(cells)
        assert isinstance(values, list)
        expected[channel_of(part.key, line, 20, 10)] = expected.get(channel_of(part.key, line, 20, 10), "") + csv_row(
            values
        )
    assert {channel: bucket.read(found.key) for channel, found in part.channels.items()} == expected
    # And its record has no sidecar and no event time
    assert all(found.metadata_key is None for found in part.channels.values())
    assert part.newest_event_at is None
    assert part.layout is not None
    assert part.layout.metadata == []


# The acceptance, through both functions: Firehose's transform, then ingestion of what it delivered


def b64(objects: list[Any]) -> str:
    return base64.b64encode("".join(json.dumps(o) + "\n" for o in objects).encode()).decode()


def test_a_new_producers_records_are_ingested_under_the_defaults_and_each_object_accounted_for(
    bucket: DataBucket,
) -> None:
    # Given a producer not seen before: extra fields, metadata fields, and several objects per record
    good = [
        dict(zip(SHIPPED.columns, [float(c) if "." in c else int(c) for c in cells], strict=True))
        for cells in feature_cells(9)
    ]
    objects = [
        good[0] | {"device_id": "press-7", "event_time": 1795723200, "firmware": "2.1", "site": {"city": "lyon"}},
        good[1] | {"device_id": 42, "event_time": "2026-11-26T22:00:00+01:00", "calibrated": True},
        good[2],
        good[3] | {"event_time": "not a time"},
        good[4] | {"device_id": ["press", 7]},
        {"heartbeat": True},
    ]
    invocation = FirehoseTransformation.model_validate(
        {
            "invocationId": "inv-1",
            "records": [
                {"recordId": "r0", "data": b64(objects)},
                {"recordId": "r1", "data": b64([good[5] | {"device_id": "press-9", "oil": 3}])},
                {"recordId": "r2", "data": b64([good[6] | {"event_time": "yesterday"}])},
            ],
        }
    )
    settings = TransformSettings(
        project_name="conveyor",
        stage="test",
        conveyor_version="0",
        state_table_name="state",
        feature_schema="telemetry",
        data_bucket_name=BUCKET,
    )
    # When the transform decides the records, and ingestion reads what Firehose delivers of them
    batch = transform(settings, TELEMETRY, invocation, NOW)
    delivered = b"".join(base64.b64decode(o.data) for o in batch.outcomes if o.result == "Ok")
    report = bucket.ingest(delivered, TELEMETRY, key=STREAM_KEY)
    # Then each object is accounted for: four accepted, three rejected with their reasons, one heartbeat skipped
    assert [o.result for o in batch.outcomes] == ["Ok", "Ok", "ProcessingFailed"]
    assert report.outcome == "accepted"
    assert report.rows_accepted == 4
    reasons = json.loads(bucket.read(str(batch.reasons_key)))["records"]
    assert [(r["record_id"], r.get("line"), r["reason"]["rule"]) for r in reasons] == [
        ("r0", 4, "event-time"),
        ("r0", 5, "metadata"),
        ("r2", None, "event-time"),
    ]
    # And the unknown fields were dropped and counted, never the metadata ones
    assert sorted(batch.dropped_fields()) == ["calibrated", "firmware", "oil", "site"]
    # And the accepted objects' rows are in the dataset with their metadata beside them
    kept = sorted(tuple(metadata) for _, metadata in bucket.rows_with_metadata(bucket.part(report)))
    assert kept == [
        ("", ""),
        ("42", "2026-11-26T21:00:00Z"),
        ("press-7", "2026-11-26T20:00:00Z"),
        ("press-9", ""),
    ]
    assert bucket.part(report).newest_event_at == datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
