"""Firehose runs a stream's processor Lambda and routes Ok, Dropped and ProcessingFailed records."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL
from localcloud.adapters.firehose_processors import expand_prefix, firehose_processors
from localcloud.delivery import AtLeastOnce
from tests.conftest import FIXTURES

pytestmark = pytest.mark.localcloud

TEMPLATE = FIXTURES / "templates" / "firehose.yaml"


@pytest.fixture
def stream_cloud() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE) as cloud:
        yield cloud


def put(cloud: LocalCloud, *payloads: bytes) -> None:
    cloud.client("firehose").put_record_batch(
        DeliveryStreamName=cloud.outputs["StreamName"], Records=[{"Data": p} for p in payloads]
    )


def objects(cloud: LocalCloud, prefix: str) -> list[bytes]:
    s3 = cloud.client("s3")
    listing = s3.list_objects_v2(Bucket=cloud.outputs["BucketName"], Prefix=prefix).get("Contents", [])
    return [s3.get_object(Bucket=cloud.outputs["BucketName"], Key=o["Key"])["Body"].read() for o in listing]


def test_gap_moto_writes_records_without_running_the_processor() -> None:
    with LocalCloud.from_template(TEMPLATE, adapters=[a for a in ALL if a is not firehose_processors]) as cloud:
        put(cloud, b'{"value": "a"}')
        assert cloud.runtime.invocations == []
        assert objects(cloud, "incoming/stream/") == [b'{"value": "a"}']


def test_fix_ok_records_are_transformed_dropped_vanish_and_failed_go_under_the_error_prefix(
    stream_cloud: LocalCloud,
) -> None:
    put(stream_cloud, b'{"value": "a"}', b"  ", b'{"value": "bad"}', b'{"value": "b"}')
    assert objects(stream_cloud, "incoming/stream/") == [b"A\nB\n"]
    [errors] = objects(stream_cloud, "errors/processing-failed/")
    [document] = [json.loads(line) for line in errors.splitlines()]
    assert document["errorCode"] == "Lambda.ProcessingFailed"
    assert base64.b64decode(document["rawData"]) == b'{"value": "bad"}'


def test_fix_a_response_that_loses_a_record_fails_the_whole_batch(stream_cloud: LocalCloud) -> None:
    put(stream_cloud, b'{"value": "a", "lose": true}', b'{"value": "b"}')
    assert objects(stream_cloud, "incoming/stream/") == []
    [errors] = objects(stream_cloud, "errors/processing-failed/")
    codes = [json.loads(line)["errorCode"] for line in errors.splitlines()]
    assert codes == ["Lambda.MissingRecordId", "Lambda.MissingRecordId"]


def test_fix_a_failing_processor_sends_every_record_to_the_error_prefix(stream_cloud: LocalCloud) -> None:
    put(stream_cloud, b"not json")
    [errors] = objects(stream_cloud, "errors/processing-failed/")
    assert json.loads(errors)["errorCode"] == "Lambda.FunctionError"


def test_fix_at_least_once_an_object_can_be_written_twice_under_the_same_key() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0)) as cloud:
        bucket = cloud.outputs["BucketName"]
        cloud.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        put(cloud, b'{"value": "a"}')
        versions = cloud.client("s3").list_object_versions(Bucket=bucket, Prefix="incoming/stream/")["Versions"]
        assert objects(cloud, "incoming/stream/") == [b"A\n"]
    assert len(versions) == 2
    assert len({v["Key"] for v in versions}) == 1


def test_fix_at_least_once_an_object_can_be_written_late() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=1)) as cloud:
        put(cloud, b'{"value": "a"}')
        assert objects(cloud, "incoming/stream/") == []
        cloud.run_until_idle()
        assert objects(cloud, "incoming/stream/") == [b"A\n"]


def test_prefix_expressions_are_expanded() -> None:
    now = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert expand_prefix("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/", now, "processing-failed") == (
        "errors/processing-failed/2026/03/04/"
    )
    assert expand_prefix("plain/", now) == "plain/2026/03/04/05/"
