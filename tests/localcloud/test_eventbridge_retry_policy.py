"""EventBridge retries a target refused with a retriable error as its RetryPolicy allows, then dead-letters it."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.helpers import queue
from tests.localcloud.conftest import allow_events

pytestmark = pytest.mark.localcloud

# The adapter's module (the package exports its adapter function under the same name).
targets = importlib.import_module("localcloud.adapters.eventbridge_targets")

EVENT = {"Source": "conveyor.test", "DetailType": "Check Requested", "Detail": json.dumps({"reason": "test"})}
PATTERN = json.dumps({"source": ["conveyor.test"], "detail-type": ["Check Requested"]})
THROTTLED = {
    "Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"},
    "ResponseMetadata": {"HTTPStatusCode": 429},
}


def route_to_health(cloud: LocalCloud, *, allowed: bool = True, **target: Any) -> str:
    """A rule sending :data:`EVENT` to the health function, with a dead-letter queue; the queue's URL."""
    url, dead_letters = queue(cloud, "dead-letters")
    function = cloud.client("lambda").get_function(FunctionName=cloud.outputs["HealthFunctionName"])
    function_arn = function["Configuration"]["FunctionArn"]
    events = cloud.client("events")
    rule_arn = events.put_rule(Name="check-requested", EventPattern=PATTERN)["RuleArn"]
    from_the_rule = {"ArnEquals": {"aws:SourceArn": rule_arn}}
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": dead_letters,
        "Condition": from_the_rule,
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    cloud.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    if allowed:
        allow_events(cloud, function_arn, rule_arn)
    targets = [{"Id": "health", "Arn": function_arn, "DeadLetterConfig": {"Arn": dead_letters}, **target}]
    events.put_targets(Rule="check-requested", Targets=targets)
    return url


@pytest.fixture
def throttle(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Make the target refuse the next ``times`` deliveries with TooManyRequestsException."""

    def arrange(times: int) -> None:
        deliver = targets._deliver
        left = [times]

        def throttled(*args: Any) -> None:
            if left[0]:
                left[0] -= 1
                raise ClientError(THROTTLED, "Invoke")
            deliver(*args)

        monkeypatch.setattr(targets, "_deliver", throttled)

    return arrange


def health_runs(cloud: LocalCloud) -> int:
    return sum(i.function_name == cloud.outputs["HealthFunctionName"] for i in cloud.runtime.invocations)


def dead_letters(cloud: LocalCloud, url: str) -> list[tuple[Any, dict[str, str]]]:
    response = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [
        (json.loads(m["Body"]), {name: value["StringValue"] for name, value in m["MessageAttributes"].items()})
        for m in response.get("Messages", [])
    ]


def test_a_throttled_delivery_is_retried_until_it_is_delivered(
    cloud: LocalCloud, throttle: Callable[[int], None]
) -> None:
    url = route_to_health(cloud)
    throttle(3)
    cloud.client("events").put_events(Entries=[EVENT])
    assert health_runs(cloud) == 1
    assert dead_letters(cloud, url) == []


def test_retries_stop_at_maximum_retry_attempts_and_the_event_is_dead_lettered(
    cloud: LocalCloud, throttle: Callable[[int], None]
) -> None:
    url = route_to_health(cloud, RetryPolicy={"MaximumRetryAttempts": 2})
    throttle(100)
    cloud.client("events").put_events(Entries=[EVENT])
    assert health_runs(cloud) == 0
    [(event, attributes)] = dead_letters(cloud, url)
    assert event["detail"] == {"reason": "test"}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert (attributes["RETRY_ATTEMPTS"], attributes["ERROR_CODE"]) == ("2", "TooManyRequestsException")
    assert attributes["RULE_ARN"].endswith(":rule/check-requested")


def test_retries_stop_when_the_event_would_be_too_old(cloud: LocalCloud, throttle: Callable[[int], None]) -> None:
    # Given waits of 1, 2, 4, 8, 16 and 32 seconds between attempts, and events at most 60 seconds old
    url = route_to_health(cloud, RetryPolicy={"MaximumEventAgeInSeconds": 60})
    throttle(100)
    cloud.client("events").put_events(Entries=[EVENT])
    # Then the sixth retry, 63 seconds after the event, is not made
    [(_, attributes)] = dead_letters(cloud, url)
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert attributes["RETRY_ATTEMPTS"] == "5"


def test_a_delivery_refused_for_permissions_is_dead_lettered_without_retries(cloud: LocalCloud) -> None:
    url = route_to_health(cloud, allowed=False)
    cloud.client("events").put_events(Entries=[EVENT])
    assert health_runs(cloud) == 0
    [(_, attributes)] = dead_letters(cloud, url)
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("NO_PERMISSIONS", "0")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes
