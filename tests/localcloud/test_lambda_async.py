"""Asynchronous invocations retry, then land in their on-failure destination."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.adapters.lambda_async import lambda_async
from tests.conftest import FIXTURES, queue
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

EVENT = {"run": "async", "item": "broken", "permanent": True}


def failing_function_with_destination(cloud: LocalCloud) -> str:
    """A function that always fails, retried once, failing into a queue; the queue's URL."""
    url, arn = queue(cloud, "on-failure")
    cloud.deploy_function("always-fails", FIXTURES / "functions" / "flaky")
    cloud.client("lambda").put_function_event_invoke_config(
        FunctionName="always-fails",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    return url


def invoke_async(cloud: LocalCloud) -> None:
    cloud.client("lambda").invoke(
        FunctionName="always-fails", InvocationType="Event", Payload=json.dumps(EVENT).encode()
    )


def test_gap_moto_runs_a_failed_event_once_and_drops_it() -> None:
    with cloud_without(lambda_async) as cloud:
        url = failing_function_with_destination(cloud)
        invoke_async(cloud)
        assert len(cloud.runtime.invocations) == 1
        assert "Messages" not in cloud.client("sqs").receive_message(QueueUrl=url)


def test_fix_the_event_is_retried_then_recorded_in_the_destination(cloud: LocalCloud) -> None:
    url = failing_function_with_destination(cloud)
    invoke_async(cloud)
    assert [i.error_type for i in cloud.runtime.invocations] == ["PermanentError", "PermanentError"]
    [message] = cloud.client("sqs").receive_message(QueueUrl=url)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == EVENT
    assert record["responsePayload"]["errorType"] == "PermanentError"
