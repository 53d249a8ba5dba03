"""The Firehose transform: each record once, Ok as a CSV row, Dropped, or failed with its reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transform import transform_batch, transform_record

from conveyor.events import FirehoseRecord, FirehoseTransformation
from conveyor.schema import load_schema
from tests.helpers import bad_inputs, load_event

SCHEMA = load_schema("predictive_maintenance")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def record(record_id: str, data: str) -> FirehoseRecord:
    return FirehoseRecord.model_validate({"recordId": record_id, "data": data})


@pytest.mark.parametrize("case", bad_inputs("record"))
def test_each_bad_record_fails_with_its_reason(case: dict[str, Any]) -> None:
    outcome = transform_record(SCHEMA, record("r1", case["data_base64"]))
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
    assert base64.b64decode(batch.outcomes[0].data) == b"1,298.1,308.6,1551.0,42.8,215,4.2\n"


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
payloads = st.one_of(
    st.binary(max_size=64),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode()),
    valid_records,
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
            assert len(decoded.decode().split(",")) == len(SCHEMA.columns)


@settings(max_examples=100, deadline=None)
@given(valid_records)
def test_every_valid_record_becomes_one_row_label_first(raw: bytes) -> None:
    outcome = transform_record(SCHEMA, record("r1", b64(raw)))
    assert outcome.result == "Ok"
    label = base64.b64decode(outcome.data).decode().split(",")[0]
    assert label == str(json.loads(raw)["failure_within_horizon"])
