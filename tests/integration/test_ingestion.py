"""Ingestion through the local cloud: Firehose and uploads feed the dataset and start retraining once.

Every test runs twice: with each event delivered once and in order, and with events delivered as
AWS may deliver them (some twice, some late, so out of order; DynamoDB now and then throttling or
cancelling a transaction for a conflict). The outcome a user sees must be the same.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import upload_check

from conveyor import s3_streams
from conveyor.dataset import channel_of
from conveyor.schema import load_schema
from conveyor.state.ledger import Counter, Ledger, Part
from conveyor_tools.stack import described_executions, executions, keys, read_json, read_object
from conveyor_tools.stack import upload as upload_to_incoming
from localcloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.helpers import DELIVERIES, bad_input, bad_inputs, freeze_releases

pytestmark = pytest.mark.localcloud

HEADER = ",".join(load_schema("predictive_maintenance").columns)
ROW = "0,298.1,308.6,1551,42.8,0,4.2"
RECORD = dict(zip(HEADER.split(","), [1, 298.1, 308.6, 1551, 42.8, 215, 4.2], strict=True))
# A small retraining threshold and row limit, so tests stay small.
PARAMETERS = {"MinNewRows": "10", "MaxFileRows": "5"}
# Files of the burst test; `make bench` lands 2,000 (conveyor_tools/bench_scale.py).
FILES = 100


@pytest.fixture(params=list(DELIVERIES))
def delivery(request: pytest.FixtureRequest) -> AtLeastOnce | None:
    """How the local cloud delivers events: once and in order, or at least once."""
    mode: AtLeastOnce | None = DELIVERIES[request.param]
    return mode


@pytest.fixture
def stack(delivery: AtLeastOnce | None) -> Iterator[LocalCloud]:
    """The stack with a small retraining threshold and row limit, so tests stay small."""
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS, delivery=delivery) as cloud:
        yield cloud


def upload(cloud: LocalCloud, name: str, rows: int = 0, body: bytes | None = None, *, settle: bool = True) -> str:
    """Upload a file of ``rows`` good rows (or ``body``) and, unless told not to, let its events be delivered."""
    content = body if body is not None else (HEADER + "\n" + "\n".join([ROW] * rows) + "\n").encode()
    key = upload_to_incoming(cloud, name, content)
    if settle:
        cloud.run_until_idle()
    return key


def ledger(cloud: LocalCloud) -> Ledger:
    return Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))


def counter(cloud: LocalCloud) -> Counter:
    """The ledger's dataset counter."""
    return ledger(cloud).counter()


def parts(cloud: LocalCloud) -> list[Part]:
    """The dataset's parts, as the ledger records them."""
    return ledger(cloud).parts()


def part_rows(cloud: LocalCloud, part: Part) -> list[str]:
    """The rows of ``part``, from its channel objects (a part's rows in no particular order)."""
    return [row for channel in part.channels.values() for row in read_object(cloud, channel.key).decode().splitlines()]


def ingest_events(cloud: LocalCloud, key: str) -> list[Any]:
    return [
        i.event
        for i in cloud.runtime.invocations
        if i.function_name == cloud.outputs["IngestFunctionName"] and i.event["detail"]["object"]["key"] == key
    ]


def test_a_good_upload_becomes_a_dataset_part_split_into_channel_objects(stack: LocalCloud) -> None:
    upload(stack, "good.csv", rows=3)
    [part] = parts(stack)
    assert part_rows(stack, part) == ["0,298.1,308.6,1551.0,42.8,0,4.2"] * 3
    # Each row in the channel its place in the part gives it; the channel objects are all that is written
    assert {channel_of(part.key, line, 20, 10) for line in range(3)} == set(part.channels)
    assert keys(stack, "datasets/parts/") == sorted(channel.key for channel in part.channels.values())
    assert keys(stack, "incoming/uploads/") == []
    assert keys(stack, "quarantine/") == []


def test_a_file_set_aside_after_rows_were_written_leaves_none_of_them(
    stack: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given chunks and parts so small that the function begins multipart uploads from its first rows on
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 2)
    monkeypatch.setattr(s3_streams, "PART_BYTES", 16)
    # When a file whose last row is bad is uploaded (under reject-file)
    upload(stack, "late.csv", body=(HEADER + "\n" + f"{ROW}\n" * 4 + "1,298.1,308.6,1551,-3,0,4.2\n").encode())
    # Then nothing is left under datasets/ nor begun there, and the file is in quarantine
    assert keys(stack, "datasets/") == []
    uploads = stack.client("s3").list_multipart_uploads(Bucket=stack.outputs["DataBucketName"])
    assert uploads.get("Uploads", []) == []
    assert "quarantine/uploads/late.csv" in keys(stack, "quarantine/")


class TestTheBadUploadCorpus:
    """Every bad upload of the corpus, through one stack per delivery mode.

    A deploy per case cost more than the case. Sharing is safe: each case uploads a file of its own
    name and reads only what was written for it, and no bad upload adds a part to the dataset, which
    each case checks. At least once, the cases now meet different fates: a channel numbers its
    deliveries over the stack's life (a stack per case gave every case the same ones).
    """

    @pytest.fixture(scope="class", params=list(DELIVERIES))
    @classmethod
    def stack(cls, request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
        with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS, delivery=DELIVERIES[request.param]) as cloud:
            yield cloud

    @pytest.mark.parametrize("case", bad_inputs("upload"))
    def test_each_bad_upload_is_quarantined_with_its_reason_and_nothing_is_lost(
        self, stack: LocalCloud, case: dict[str, Any]
    ) -> None:
        name = case["file"].removeprefix("csv/")
        upload(stack, name, body=bad_input(case["file"]))
        document = read_json(stack, f"quarantine/uploads/{name}.error.json")
        assert document["errors"][0].items() >= case["expected"].items()
        rows = document["rows"]
        assert rows["in"] == rows["accepted"] + rows["set_aside"]
        assert keys(stack, "datasets/parts/") == []
        assert f"quarantine/uploads/{name}" in keys(stack, "quarantine/")


def test_keep_good_rows_keeps_them_and_sets_the_bad_ones_aside(delivery: AtLeastOnce | None) -> None:
    parameters = {"RowErrorPolicy": "keep-good-rows", "MinNewRows": "100"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters, delivery=delivery) as cloud:
        body = f"{HEADER}\n{ROW}\n1,298.1,308.6,1551,-3,0,4.2\n{ROW}\n".encode()
        upload(cloud, "mixed.csv", body=body)
        [part] = parts(cloud)
        rows = part_rows(cloud, part)
        document = read_json(cloud, "quarantine/uploads/mixed.csv.error.json")
        rejected = read_object(cloud, "quarantine/uploads/mixed.csv.rejected.csv")
    assert document["rows"] == {"in": 3, "accepted": 2, "set_aside": 1}
    assert document["errors"][0]["line"] == 3
    assert rejected == b"1,298.1,308.6,1551,-3,0,4.2\n"
    assert rows == ["0,298.1,308.6,1551.0,42.8,0,4.2"] * 2


def test_the_upload_that_crosses_the_threshold_starts_exactly_one_run(stack: LocalCloud) -> None:
    # Given 4 pending rows
    upload(stack, "first.csv", rows=4)
    assert executions(stack) == []
    # When an upload lifts pending rows past MinNewRows (10)...
    crossing = upload(stack, "crossing.csv", rows=5)
    upload(stack, "third.csv", rows=5)
    # ...its event is delivered twice more, and two other uploads land
    event = ingest_events(stack, crossing)[0]
    for _ in range(2):
        stack.client("lambda").invoke(
            FunctionName=stack.outputs["IngestFunctionName"], InvocationType="Event", Payload=json.dumps(event).encode()
        )
    upload(stack, "fourth.csv", rows=2)
    stack.run_until_idle()
    # Then exactly one execution runs, named after the run, over the snapshot's 14 rows
    [execution] = executions(stack)
    assert execution["name"] == "run-000001"
    described = stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    run_input = json.loads(described["input"])
    assert (run_input["trigger"], run_input["new_rows"], run_input["dataset"]["rows"]) == ("threshold", 14, 14)
    manifest = read_json(stack, run_input["dataset"]["manifest_key"])
    assert sum(part["rows"] for part in manifest["parts"]) == 14
    # And each upload added its rows once (the run compacted the snapshot's small parts into one since)
    assert sorted(ledger(stack).accepted_objects().values()) == [2, 4, 5, 5]
    assert sum(part.rows for part in parts(stack)) == 16


def test_uploads_count_once_each_in_whatever_order_their_events_arrive(stack: LocalCloud) -> None:
    # Given uploads whose events may arrive late, twice, out of order (MinNewRows is 10)
    sizes = [3, 5, 2, 4, 5, 1, 4, 3]
    for number, rows in enumerate(sizes):
        upload(stack, f"batch-{number}.csv", rows=rows, settle=False)
    # When the stack settles
    stack.run_until_idle()
    # Then each upload is one part, and each row counts in exactly one run or is still pending
    assert sorted(ledger(stack).accepted_objects().values()) == sorted(sizes)
    assert sum(part.rows for part in parts(stack)) == sum(sizes)
    runs = [json.loads(e["input"]) for e in described_executions(stack)]
    dataset = counter(stack)
    assert dataset.total_rows == sum(sizes)
    assert sum(run["new_rows"] for run in runs) + dataset.pending_rows == sum(sizes)
    assert all(run["new_rows"] >= 10 for run in runs)
    assert sorted(run["run_id"] for run in runs) == [f"run-{n:06d}" for n in range(1, len(runs) + 1)]
    assert dataset.runs == len(runs) >= 1
    # And each run's snapshot holds exactly the rows its manifest lists
    for run in runs:
        manifest = read_json(stack, run["dataset"]["manifest_key"])
        assert sum(part["rows"] for part in manifest["parts"]) == run["dataset"]["rows"] >= run["new_rows"]


def test_a_frozen_stack_ingests_but_starts_nothing(stack: LocalCloud) -> None:
    freeze_releases(stack)
    upload(stack, "a.csv", rows=5)
    upload(stack, "b.csv", rows=5)
    stack.run_until_idle()
    assert len(parts(stack)) == 2
    assert executions(stack) == []


def test_records_streamed_through_firehose_land_transformed_and_failures_under_the_error_prefix(
    stack: LocalCloud,
) -> None:
    records = [json.dumps(RECORD), json.dumps(RECORD), '{"heartbeat": true}', "not json", json.dumps({"x": 1})]
    stack.client("firehose").put_record_batch(
        DeliveryStreamName=stack.outputs["IngestStreamName"], Records=[{"Data": r.encode()} for r in records]
    )
    stack.run_until_idle()
    # The stream's output is itself ingested: its rows are a dataset part, and the object leaves incoming/
    [part] = parts(stack)
    assert part_rows(stack, part) == ["1,298.1,308.6,1551.0,42.8,215,4.2"] * 2
    assert keys(stack, "incoming/") == []
    [errors] = keys(stack, "errors/stream/processing-failed/")
    failed = read_object(stack, errors)
    assert len(failed.splitlines()) == 2
    # And why each was set aside is written beside them
    [reasons_key] = keys(stack, "errors/stream/reasons/")
    reasons = read_json(stack, reasons_key)["records"]
    assert [(r["reason"]["rule"], r["reason"].get("column")) for r in reasons] == [
        ("json", None),
        ("missing-field", "failure_within_horizon"),
    ]


def test_records_with_extra_fields_and_several_objects_are_split_and_every_object_accounted_for(
    stack: LocalCloud,
) -> None:
    # Given telemetry as devices send it: extra fields, and records of several newline-delimited objects
    telemetry = json.dumps(RECORD | {"machine_id": "press-7", "timestamp": "2026-11-26T12:00:00Z"})
    bad_value = json.dumps(RECORD | {"torque_nm": 420.0})
    records = [
        telemetry,
        f'{telemetry}\nnot json\n\n{{"heartbeat": true}}\n{bad_value}\n{json.dumps(RECORD)}\n',
        '{"machine_id": "press-8"}\n[1, 2]\n',
    ]
    # When they are streamed through Firehose
    stack.client("firehose").put_record_batch(
        DeliveryStreamName=stack.outputs["IngestStreamName"], Records=[{"Data": r.encode()} for r in records]
    )
    stack.run_until_idle()
    # Then each good object is a row with the schema's columns alone
    [part] = parts(stack)
    assert part_rows(stack, part) == ["1,298.1,308.6,1551.0,42.8,215,4.2"] * 3
    # And the record with no good object is under the error prefix
    [errors] = keys(stack, "errors/stream/processing-failed/")
    assert len(read_object(stack, errors).splitlines()) == 1
    # And every other object is in the reasons object, in full, with its place in its record and why
    [reasons_key] = keys(stack, "errors/stream/reasons/")
    reasons = read_json(stack, reasons_key)["records"]
    assert [(r["index"], r["line"], r["reason"]["rule"], base64.b64decode(r["data"])) for r in reasons] == [
        (1, 2, "json", b"not json"),
        (3, 5, "max", bad_value.encode()),
        (0, 1, "missing-field", b'{"machine_id": "press-8"}'),
        (1, 2, "not-object", b"[1, 2]"),
    ]


def test_the_same_bytes_written_twice_under_one_key_count_once(stack: LocalCloud) -> None:
    # Given a stream object written twice (Firehose retried a write that had gone through): two versions
    key = "incoming/stream/2026/11/26/conveyor-stream-1-2026-11-26-10-00-00-retried"
    for _ in range(2):
        stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key=key, Body=f"{ROW}\n{ROW}\n".encode())
    stack.run_until_idle()
    # Then its rows are one part, counted once, whose channel objects hold them
    [part] = parts(stack)
    assert len(part_rows(stack, part)) == counter(stack).total_rows == 2


def test_a_gzip_upload_and_the_same_rows_uncompressed_are_one_part_counted_once(stack: LocalCloud) -> None:
    # Given a file's rows uploaded gzipped as daily.csv.gz
    body = (HEADER + "\n" + "\n".join([ROW] * 3) + "\n").encode()
    upload(stack, "daily.csv.gz", body=gzip.compress(body))
    [part] = parts(stack)
    written = {channel.key: read_object(stack, channel.key) for channel in part.channels.values()}
    # When the same rows are uploaded uncompressed as daily.csv
    upload(stack, "daily.csv", body=body)
    # Then they are the part already in the dataset: their rows count once, in the same channel objects
    assert parts(stack) == [part]
    assert counter(stack).total_rows == 3
    assert {key: read_object(stack, key) for key in written} == written
    assert part_rows(stack, part) == ["0,298.1,308.6,1551.0,42.8,0,4.2"] * 3
    assert keys(stack, "incoming/uploads/") == []


def test_a_truncated_gzip_upload_is_quarantined_as_it_came_with_its_reason(stack: LocalCloud) -> None:
    truncated = gzip.compress((HEADER + "\n" + "\n".join([ROW] * 3) + "\n").encode())[:-4]
    upload(stack, "cut.csv.gz", body=truncated)
    assert read_object(stack, "quarantine/uploads/cut.csv.gz") == truncated
    document = read_json(stack, "quarantine/uploads/cut.csv.gz.error.json")
    assert document["errors"] == [
        {"rule": "gzip", "message": "file is not valid gzip: compressed data ends before the end of the stream"}
    ]
    assert keys(stack, "datasets/") == []


def test_the_schedule_starts_a_run_for_rows_below_the_threshold(delivery: AtLeastOnce | None) -> None:
    parameters = {"MinNewRows": "1000", "RetrainSchedule": "rate(1 hour)"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters, delivery=delivery) as cloud:
        upload(cloud, "few.csv", rows=3)
        assert executions(cloud) == []
        cloud.advance(minutes=61)
        [execution] = executions(cloud)
        described = cloud.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["trigger"] == "schedule"


def test_a_burst_of_uploads_at_once_counts_every_row_once() -> None:
    # Given a backfill of files landing at once (2,000 in `make bench`), delivered as AWS may, conflicts injected
    # (every ingestion updates the one counter item in a transaction: the hot key under a burst)
    delivery = AtLeastOnce(seed=3, conflict_rate=0.2)
    with LocalCloud.from_template(TEMPLATE, parameters={"MinNewRows": "1000000"}, delivery=delivery) as cloud:
        sizes = [1 + number % 4 for number in range(FILES)]
        for number, rows in enumerate(sizes):
            upload(cloud, f"backfill/{number:04d}.csv", rows=rows, settle=False)
        # When every event has been handled
        cloud.run_until_idle(timeout=600)
        # Then transactions were cancelled for conflicts and retried, and the counter holds every row once
        refused = cloud.deliveries.refused
        assert sum(count for name, count in refused.items() if name.endswith(":conflict")) > FILES // 20
        assert counter(cloud).total_rows == counter(cloud).pending_rows == sum(sizes)
        assert sorted(ledger(cloud).accepted_objects().values()) == sorted(sizes)
        assert keys(cloud, "incoming/") == []
