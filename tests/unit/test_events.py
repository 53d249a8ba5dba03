"""Events parse at the boundary; a malformed one fails with the field that is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from conveyor.events import FirehoseTransformation, ObjectCreated
from tests.helpers import load_event


def test_the_sample_object_created_event_names_the_object_and_its_version() -> None:
    event = ObjectCreated.model_validate(load_event("ingestion/ingest.json"))
    assert event.detail.object.key == "incoming/uploads/machines-2026-11-26.csv"
    assert event.detail.object.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert event.detail.object.size == 312


def test_an_event_without_an_object_key_is_refused_by_name() -> None:
    event = load_event("ingestion/ingest.json")
    del event["detail"]["object"]["key"]
    with pytest.raises(ValidationError, match=r"detail\.object\.key"):
        ObjectCreated.model_validate(event)


def test_the_sample_firehose_invocation_lists_each_record_with_its_data() -> None:
    invocation = FirehoseTransformation.model_validate(load_event("ingestion/firehose_transform.json"))
    assert invocation.invocation_id == "invocationIdExample"
    assert [record.record_id[-3:] for record in invocation.records] == ["154", "155", "156"]
    assert invocation.records[1].data == "eyJoZWFydGJlYXQiOiB0cnVlfQ=="


def test_a_firehose_record_without_data_is_refused_by_name() -> None:
    event = load_event("ingestion/firehose_transform.json")
    del event["records"][0]["data"]
    with pytest.raises(ValidationError, match=r"records\.0\.data"):
        FirehoseTransformation.model_validate(event)
