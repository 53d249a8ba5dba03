"""The Firehose transform: each record once, Ok as CSV rows, Dropped, or failed with its reason;
records of several objects split, and every object set aside written to the reasons object."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from transform import TransformSettings, is_heartbeat, transform, transform_batch, transform_record

from conveyor import aws
from conveyor.events import FirehoseRecord, FirehoseTransformation
from conveyor.schema import FeatureSchema, Rejection, csv_row, load_schema
from tests.helpers import bad_inputs, load_app, load_event

SCHEMA = load_schema("predictive_maintenance")
GOOD = dict(zip(SCHEMA.columns, [1, 298.1, 308.6, 1551, 42.8, 215, 4.2], strict=True))
GOOD_ROW = "1,298.1,308.6,1551.0,42.8,215,4.2\n"
BUCKET = "data"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENVIRONMENT = {
    "PROJECT_NAME": "conveyor",
    "STAGE": "dev",
    "CONVEYOR_VERSION": "test",
    "STATE_TABLE_NAME": "state",
    "FEATURE_SCHEMA": "predictive_maintenance",
    "DATA_BUCKET_NAME": BUCKET,
    "POWERTOOLS_SERVICE_NAME": "firehose_transform",
    "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def record(record_id: str, data: str) -> FirehoseRecord:
    return FirehoseRecord.model_validate({"recordId": record_id, "data": data})


def ndjson(*objects: Any) -> str:
    """A record's base64 data: each object (or raw text) on its own line, with a trailing newline."""
    return b64("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects).encode())


def rows(data: str) -> list[str]:
    """The CSV lines of an answered record's data."""
    return base64.b64decode(data).decode().splitlines(keepends=True)


def invocation(*records: str) -> FirehoseTransformation:
    """An invocation of ``records`` (base64 data), with ids r0, r1..."""
    return FirehoseTransformation.model_validate(
        {"invocationId": "inv-1", "records": [{"recordId": f"r{i}", "data": data} for i, data in enumerate(records)]}
    )


@pytest.fixture
def bucket() -> Iterator[str]:
    """The data bucket, in moto."""
    with mock_aws():
        aws.client.cache_clear()
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield BUCKET
    aws.client.cache_clear()


def reasons(key: str | None) -> list[dict[str, Any]]:
    """The entries of the reasons object at ``key``."""
    assert key is not None
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    entries: list[dict[str, Any]] = json.loads(body)["records"]
    return entries


@pytest.mark.parametrize("case", bad_inputs("record"))
def test_each_bad_record_fails_with_its_reason(case: dict[str, Any]) -> None:
    # Given the schema with the case's options (e.g. unknown fields rejected)
    schema = FeatureSchema.model_validate(SCHEMA.model_dump() | case.get("schema", {}))
    outcome = transform_record(schema, record("r1", case["data_base64"]))
    assert outcome.result == "ProcessingFailed"
    assert outcome.reason is not None
    assert outcome.reason.model_dump(exclude_none=True, exclude={"message"}).items() >= case["expected"].items()
    carried = json.loads(base64.b64decode(outcome.data))
    assert carried["reason"]["rule"] == case["expected"]["rule"]
    assert carried["data"] == case["data_base64"]


def test_the_sample_event_gives_one_row_one_drop_and_one_failure() -> None:
    event = load_event("ingestion/firehose_transform.json")
    batch = transform_batch(SCHEMA, FirehoseTransformation.model_validate(event).records)
    assert [o.result for o in batch.outcomes] == ["Ok", "Dropped", "ProcessingFailed"]
    assert base64.b64decode(batch.outcomes[0].data) == GOOD_ROW.encode()


@pytest.mark.parametrize("raw", [b"", b"   \n", b'{"heartbeat": true}', b'{"type": "heartbeat", "at": 1}'])
def test_empty_records_and_heartbeats_are_dropped(raw: bytes) -> None:
    assert transform_record(SCHEMA, record("r1", b64(raw))).result == "Dropped"


valid_records = st.fixed_dictionaries(
    {
        "failure_within_horizon": st.sampled_from([0, 1]),
        "air_temperature_k": st.floats(250, 350),
        "process_temperature_k": st.floats(250, 400),
        "rotational_speed_rpm": st.floats(0, 5000),
        "torque_nm": st.floats(0, 200),
        "tool_wear_min": st.integers(0, 600),
        "vibration_mm_s": st.floats(0, 100),
    }
).map(lambda r: json.dumps(r).encode())
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps(v).encode())
lines = st.one_of(valid_records, documents, st.sampled_from([b"", b" ", b"not json", b'{"heartbeat": true}']))
payloads = st.one_of(
    st.binary(max_size=64),
    documents,
    valid_records,
    st.lists(lines, min_size=2, max_size=5).map(b"\n".join),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(payloads, max_size=25))
def test_any_batch_answers_each_record_id_exactly_once_with_a_valid_result(batch_payloads: list[bytes]) -> None:
    records = [record(f"id-{index}", b64(raw)) for index, raw in enumerate(batch_payloads)]
    response = transform_batch(SCHEMA, records).response()
    assert [r["recordId"] for r in response["records"]] == [r.record_id for r in records]
    for answer in response["records"]:
        assert answer["result"] in {"Ok", "Dropped", "ProcessingFailed"}
        decoded = base64.b64decode(answer["data"], validate=True)
        if answer["result"] == "Ok":
            assert decoded.endswith(b"\n")
            assert all(len(line.split(",")) == len(SCHEMA.columns) for line in decoded.decode().splitlines())


@settings(max_examples=100, deadline=None)
@given(valid_records)
def test_every_valid_record_becomes_one_row_label_first(raw: bytes) -> None:
    outcome = transform_record(SCHEMA, record("r1", b64(raw)))
    assert outcome.result == "Ok"
    label = base64.b64decode(outcome.data).decode().split(",")[0]
    assert label == str(json.loads(raw)["failure_within_horizon"])


def test_a_record_with_fields_the_schema_does_not_name_is_ok_with_only_the_schema_columns() -> None:
    # Given a record as real telemetry sends it: a device id, a timestamp and a nested object beside the schema's fields
    extra = GOOD | {"machine_id": "press-7", "timestamp": "2026-11-26T12:00:00Z", "meta": {"fw": [1, True]}}
    # When it is transformed
    outcome = transform_record(SCHEMA, record("r1", b64(json.dumps(extra).encode())))
    # Then it is Ok, its row has the schema's columns alone, and the dropped fields are named
    assert outcome.result == "Ok"
    assert rows(outcome.data) == [GOOD_ROW]
    assert outcome.dropped_fields == ("machine_id", "timestamp", "meta")


def test_a_schema_that_rejects_unknown_fields_fails_the_record_naming_the_field() -> None:
    strict = FeatureSchema.model_validate(SCHEMA.model_dump() | {"unknown_fields": "reject"})
    outcome = transform_record(strict, record("r1", b64(json.dumps(GOOD | {"machine_id": "press-7"}).encode())))
    assert outcome.result == "ProcessingFailed"
    assert outcome.reason is not None
    assert (outcome.reason.rule, outcome.reason.column) == ("unknown-field", "machine_id")


def test_a_record_of_several_good_objects_is_one_row_each_in_order() -> None:
    # Given a record of three objects, newline-delimited, with a blank line between two
    second = GOOD | {"failure_within_horizon": 0, "machine_id": "press-7"}
    data = b64(f"{json.dumps(GOOD)}\n\n{json.dumps(second)}\r\n{json.dumps(GOOD)}\n".encode())
    # When it is transformed
    outcome = transform_record(SCHEMA, record("r1", data))
    # Then it is Ok with the objects' rows in their order, and nothing is set aside
    assert outcome.result == "Ok"
    assert rows(outcome.data) == [GOOD_ROW, "0" + GOOD_ROW[1:], GOOD_ROW]
    assert outcome.rejected == ()
    assert outcome.dropped_fields == ("machine_id",)


@pytest.mark.parametrize(
    "objects",
    [
        ['{"heartbeat": true}', {"type": "heartbeat", "at": 1}],
        ["", '{"heartbeat": true}', "  ", '{"heartbeat": 2}'],
    ],
    ids=["heartbeats", "heartbeats-and-blank-lines"],
)
def test_a_record_of_heartbeats_alone_is_dropped(objects: list[Any]) -> None:
    assert transform_record(SCHEMA, record("r1", ndjson(*objects))).result == "Dropped"


def test_a_heartbeat_among_good_objects_is_left_out_of_the_rows() -> None:
    outcome = transform_record(SCHEMA, record("r1", ndjson('{"heartbeat": true}', GOOD)))
    assert (outcome.result, rows(outcome.data), outcome.rejected) == ("Ok", [GOOD_ROW], ())


def test_bad_objects_among_good_ones_are_set_aside_and_the_good_ones_kept(bucket: str) -> None:
    # Given a record whose objects 1 (not JSON) and 3 (a torque too high) are bad, and a blank line before object 3
    bad_value = GOOD | {"torque_nm": 420.0}
    data = b64(f"{json.dumps(GOOD)}\nnot json\n{json.dumps(GOOD)}\n\n{json.dumps(bad_value)}\n".encode())
    # When its invocation is transformed
    batch = transform(TransformSettings.from_env(ENVIRONMENT), SCHEMA, invocation(data), NOW)
    # Then the record is Ok with the good objects' rows
    [answer] = batch.response()["records"]
    assert (answer["recordId"], answer["result"]) == ("r0", "Ok")
    assert rows(answer["data"]) == [GOOD_ROW, GOOD_ROW]
    # And each bad object is in the reasons object in full, with its index, line and reason
    assert batch.reasons_key == "errors/stream/reasons/2026/11/26/inv-1.json"
    entries = reasons(batch.reasons_key)
    assert [(e["record_id"], e["index"], e["line"], e["reason"]["rule"]) for e in entries] == [
        ("r0", 1, 2, "json"),
        ("r0", 3, 5, "max"),
    ]
    assert [base64.b64decode(e["data"]) for e in entries] == [b"not json", json.dumps(bad_value).encode()]
    assert entries[1]["reason"] | {"message": ""} == {
        "rule": "max",
        "message": "",
        "line": 5,
        "column": "torque_nm",
        "value": "420.0",
    }


def test_a_record_of_bad_objects_alone_fails_and_each_object_is_in_the_reasons(bucket: str) -> None:
    # Given a record of a heartbeat and two bad objects
    missing = {k: v for k, v in GOOD.items() if k != "tool_wear_min"}
    data = ndjson('{"heartbeat": true}', missing, "[1, 2]")
    # When its invocation is transformed
    batch = transform(TransformSettings.from_env(ENVIRONMENT), SCHEMA, invocation(data), NOW)
    # Then the record fails, carrying the first bad object's reason and the data as sent
    [answer] = batch.response()["records"]
    assert answer["result"] == "ProcessingFailed"
    carried = json.loads(base64.b64decode(answer["data"]))
    assert (carried["reason"]["rule"], carried["reason"]["line"], carried["data"]) == ("missing-field", 2, data)
    # And each bad object is in the reasons object, in full, with its position
    entries = reasons(batch.reasons_key)
    assert [(e["index"], e["line"], e["reason"]["rule"], base64.b64decode(e["data"])) for e in entries] == [
        (1, 2, "missing-field", json.dumps(missing).encode()),
        (2, 3, "not-object", b"[1, 2]"),
    ]


def test_a_failed_record_of_one_object_keeps_its_reasons_entry(bucket: str) -> None:
    # Given a good record and a record of one bad object
    bad = b64(json.dumps(GOOD | {"failure_within_horizon": 7}).encode())
    batch = transform(TransformSettings.from_env(ENVIRONMENT), SCHEMA, invocation(ndjson(GOOD), bad), NOW)
    # Then the reasons object has the failed record's entry as always: its id, reason and data as sent
    [entry] = reasons(batch.reasons_key)
    assert set(entry) == {"record_id", "reason", "data"}
    assert (entry["record_id"], entry["reason"]["rule"], entry["data"]) == ("r1", "label", bad)


def test_a_batch_answers_every_record_once_in_its_place_and_counts_each_result(bucket: str) -> None:
    # Given the sample invocation (a good record, a heartbeat, a bad one), then corrupt, empty, several and null records
    event = load_event("ingestion/firehose_transform.json")
    sample_ids = [r["recordId"] for r in event["records"]]
    corrupt, latin1 = "e30=e30=", b64('{"site": "Sète"}'.encode("latin-1"))
    several, null = ndjson(GOOD, "hello"), b64(b"null")
    event["records"] += [{"recordId": f"r{i}", "data": d} for i, d in enumerate([corrupt, "", latin1, several, null])]
    # When the invocation is transformed
    settings = TransformSettings.from_env(ENVIRONMENT)
    batch = transform(settings, SCHEMA, FirehoseTransformation.model_validate(event), NOW)
    # Then every record id is answered once, in the order sent, with its result
    answers = batch.response()["records"]
    assert [(a["recordId"], a["result"]) for a in answers] == [
        (sample_ids[0], "Ok"),
        (sample_ids[1], "Dropped"),
        (sample_ids[2], "ProcessingFailed"),
        ("r0", "ProcessingFailed"),
        ("r1", "Dropped"),
        ("r2", "ProcessingFailed"),
        ("r3", "Ok"),
        ("r4", "ProcessingFailed"),
    ]
    # And the results and the objects set aside from delivered records are counted
    assert batch.counts() == Counter({"ProcessingFailed": 4, "Ok": 2, "Dropped": 2})
    assert batch.rejected_objects() == 1
    # And the reasons object holds each record or object set aside, in the same order, with its reason alone
    assert reasons(batch.reasons_key) == [
        {
            "record_id": sample_ids[2],
            "reason": {
                "rule": "missing-field",
                "message": "missing field 'process_temperature_k'",
                "column": "process_temperature_k",
            },
            "data": event["records"][2]["data"],
        },
        {"record_id": "r0", "reason": {"rule": "encoding", "message": "record data is not base64"}, "data": corrupt},
        {"record_id": "r2", "reason": {"rule": "encoding", "message": "record is not UTF-8"}, "data": latin1},
        {
            "record_id": "r3",
            "index": 1,
            "line": 2,
            "reason": {"rule": "json", "message": "object is not JSON: Expecting value", "line": 2},
            "data": b64(b"hello"),
        },
        {
            "record_id": "r4",
            "reason": {"rule": "not-object", "message": "expected a JSON object, got NoneType"},
            "data": null,
        },
    ]


def test_a_batch_without_anything_set_aside_writes_no_reasons(bucket: str) -> None:
    batch = transform(TransformSettings.from_env(ENVIRONMENT), SCHEMA, invocation(ndjson(GOOD, GOOD)), NOW)
    assert batch.reasons_key is None
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def verdict(line: bytes) -> str:
    """What one object of a record of several must come to: a CSV row, "heartbeat" or "rejected"."""
    try:
        document = json.loads(line)
    except ValueError:
        return "rejected"
    if is_heartbeat(document):
        return "heartbeat"
    values = SCHEMA.parse_record(document)
    return "rejected" if isinstance(values, Rejection) else csv_row(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(lines, min_size=2, max_size=6))
def test_every_object_of_a_record_of_several_is_a_row_or_set_aside_in_its_place(objects: list[bytes]) -> None:
    # Given a record of several non-blank lines, each good, bad or a heartbeat, blank lines between
    data = b"\n".join(objects)
    assume(b"\n" in data.strip())
    # When it is transformed
    outcome = transform_record(SCHEMA, record("r1", b64(data)))
    # Then each good object is a row, in order, and each other one but heartbeats is set aside with its position
    numbered = [(number, line) for number, line in enumerate(objects, start=1) if line.strip()]
    verdicts = [verdict(line) for _, line in numbered]
    good = [v for v in verdicts if v not in {"heartbeat", "rejected"}]
    bad = [(index, *numbered[index]) for index, v in enumerate(verdicts) if v == "rejected"]
    assert outcome.result == ("Ok" if good else "ProcessingFailed" if bad else "Dropped")
    assert (rows(outcome.data) if good else []) == good
    assert [(r.index, r.line, r.raw) for r in outcome.rejected] == bad


class Context:
    function_name = "firehose_transform"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:firehose_transform"
    aws_request_id = "request-1"


def test_the_handler_counts_and_names_the_unknown_fields_it_dropped(
    bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given two records with a device id and a timestamp, one of them a record of two objects
    telemetry = GOOD | {"machine_id": "press-7", "timestamp": 1764158400}
    event = invocation(ndjson(telemetry), ndjson(telemetry, GOOD | {"machine_id": "press-8"})).model_dump(by_alias=True)
    # When the handler answers
    reply = load_app("ingestion/firehose_transform", ENVIRONMENT, monkeypatch).handler(event, Context())
    # Then both records are Ok, and the metric counts the five fields dropped, which the log names
    assert [r["result"] for r in reply["records"]] == ["Ok", "Ok"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [metric] = [line for line in lines if "_aws" in line]
    assert metric["UnknownFieldsDropped"] == [5.0]
    assert metric["RecordsOk"] == [2.0]
    assert "ObjectsRejected" not in metric
    [logged] = [r.__dict__ for r in caplog.records if r.getMessage() == "unknown fields dropped"]
    assert (logged["dropped"], logged["fields"]) == (5, {"machine_id": 3, "timestamp": 2})


def test_the_handler_counts_the_objects_it_set_aside_from_records_it_delivered(
    bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a record of a good object and a line that is not JSON
    event = invocation(ndjson(GOOD, "{oops")).model_dump(by_alias=True)
    # When the handler answers
    reply = load_app("ingestion/firehose_transform", ENVIRONMENT, monkeypatch).handler(event, Context())
    # Then the record is Ok, and the object set aside is counted and its reasons object logged
    assert [r["result"] for r in reply["records"]] == ["Ok"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [metric] = [line for line in lines if "_aws" in line]
    assert (metric["RecordsOk"], metric["ObjectsRejected"]) == ([1.0], [1.0])
    [logged] = [r.__dict__ for r in caplog.records if r.getMessage() == "records set aside"]
    assert logged["reasons"] == f"s3://{BUCKET}/errors/stream/reasons/{datetime.now(UTC):%Y/%m/%d}/inv-1.json"


def test_an_accepted_objects_metadata_follows_its_features_as_csv_cells() -> None:
    # Given a schema with a device id and an event time, and a record of two objects that carry them
    telemetry = FeatureSchema.model_validate(
        SCHEMA.model_dump() | {"metadata": [{"name": "device_id"}, {"name": "event_time", "type": "event_time"}]}
    )
    data = ndjson(GOOD | {"device_id": 'press "7", bay 2', "event_time": 1795723200}, GOOD | {"site": "lyon"})
    # When the record is decided
    outcome = transform_record(telemetry, record("r1", data))
    # Then each object's line ends with its metadata cells, quoted as CSV quotes them, an absent one empty
    assert outcome.result == "Ok"
    assert rows(outcome.data) == [
        GOOD_ROW[:-1] + ',"press ""7"", bay 2",2026-11-26T20:00:00Z\n',
        GOOD_ROW[:-1] + ",,\n",
    ]
    assert outcome.dropped_fields == ("site",)
