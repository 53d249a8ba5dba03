"""Asynchronous invocations retry, expire, then land in their on-failure destination and dead-letter queue."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.lambda_async import lambda_async
from localcloud.delivery import AtLeastOnce
from tests.conftest import FIXTURES, TEMPLATE
from tests.helpers import queue
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

EVENT = {"run": "async", "item": "broken", "permanent": True}


def failing_function_with_destination(cloud: LocalCloud, **config: Any) -> str:
    """A function that always fails, retried once (unless ``config`` says otherwise), failing into a queue.

    Returns the queue's URL.
    """
    url, arn = queue(cloud, "on-failure")
    cloud.deploy_function("always-fails", FIXTURES / "functions" / "flaky")
    cloud.client("lambda").put_function_event_invoke_config(
        FunctionName="always-fails",
        **{"MaximumRetryAttempts": 1, **config},
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    return url


def failing_function_with_dead_letters(cloud: LocalCloud, *, may_send: bool = True) -> str:
    """A function that always fails, not retried, whose dead-letter queue its role may send to; the queue's URL."""
    url, arn = queue(cloud, "dead-letters")
    statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}
    policy = {"Version": "2012-10-17", "Statement": [statement]} if may_send else None
    cloud.deploy_function("always-fails", FIXTURES / "functions" / "flaky", policy=policy)
    lambda_client = cloud.client("lambda")
    lambda_client.update_function_configuration(FunctionName="always-fails", DeadLetterConfig={"TargetArn": arn})
    lambda_client.put_function_event_invoke_config(FunctionName="always-fails", MaximumRetryAttempts=0)
    return url


def received(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    response = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


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


def test_fix_an_event_too_old_for_its_next_attempt_is_dropped_as_event_age_exceeded(cloud: LocalCloud) -> None:
    # Given retries after 1 and 2 minutes, and events that may be at most 90 seconds old
    url = failing_function_with_destination(cloud, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=90)
    # When the event fails its first two attempts
    invoke_async(cloud)
    # Then the third would come too late: the event goes to the destination, aged out
    assert [i.error_type for i in cloud.runtime.invocations] == ["PermanentError", "PermanentError"]
    [message] = received(cloud, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_fix_an_event_that_waited_in_the_queue_past_its_maximum_age_never_runs() -> None:
    late = AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=1)
    with LocalCloud.from_template(TEMPLATE, delivery=late) as cloud:
        url = failing_function_with_destination(cloud, MaximumEventAgeInSeconds=60)
        invoke_async(cloud)
        cloud.clock.advance(timedelta(minutes=2))
        cloud.run_until_idle()
        assert cloud.runtime.invocations == []
        [message] = received(cloud, url)
    record = json.loads(message["Body"])
    assert (record["requestContext"]["condition"], record["requestContext"]["approximateInvokeCount"]) == (
        "EventAgeExceeded",
        0,
    )
    assert record["requestPayload"] == EVENT


def test_fix_a_failed_event_goes_to_the_dead_letter_queue_as_it_was_sent(cloud: LocalCloud) -> None:
    url = failing_function_with_dead_letters(cloud)
    invoke_async(cloud)
    [message] = received(cloud, url)
    assert json.loads(message["Body"]) == EVENT
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "200"
    assert attributes["ErrorMessage"] == "item broken can never be processed"
    assert attributes["RequestID"]


def test_fix_a_dead_letter_the_role_may_not_send_is_dropped(cloud: LocalCloud) -> None:
    url = failing_function_with_dead_letters(cloud, may_send=False)
    invoke_async(cloud)
    assert received(cloud, url) == []


def test_fix_with_both_a_destination_and_a_dead_letter_queue_each_gets_the_failure(cloud: LocalCloud) -> None:
    # Given the ingest function, whose destination and dead-letter queue are both the stack's DeadLetterQueue
    url = cloud.outputs["DeadLetterQueueUrl"]
    # When an event it cannot parse fails every attempt
    cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["IngestFunctionName"], InvocationType="Event", Payload=b'{"not": "an s3 event"}'
    )
    # Then the queue holds the invocation record and the event itself
    bodies = [json.loads(m["Body"]) for m in received(cloud, url)]
    [record] = [b for b in bodies if "requestContext" in b]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert {"not": "an s3 event"} in bodies
