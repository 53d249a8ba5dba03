"""Gap: moto's asynchronous Lambda invocations neither retry nor reach their on-failure destination.

Lambda retries a failed asynchronous invocation ``MaximumRetryAttempts`` times (two by
default), waiting between attempts, then sends the event to the function's on-failure
destination. Moto runs the event once and forgets it. Fix: the same retries, on stack time,
then an invocation record (the destination format) to an SQS on-failure destination.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.awslambda.models import LambdaFunction

if TYPE_CHECKING:
    from localcloud.interface import Cloud

DEFAULT_RETRIES = 2
RETRY_WAITS_SECONDS = (60, 120)


def _config(function: Any) -> dict[str, Any]:
    configs = function.event_invoke_config
    return dict(configs[0].config) if configs else {}


def _delivering(cloud: Cloud, original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(function: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        if request_headers.get("x-amz-invocation-type") != "Event":
            return original(function, body, request_headers, response_headers)
        event = json.loads(body) if body else {}
        config = _config(function)
        attempts = 1 + int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        for attempt in range(attempts):
            result, errored, _ = function._invoke_lambda(event=event)
            if not errored:
                return ""
            if attempt + 1 < attempts:
                cloud.clock.sleep(RETRY_WAITS_SECONDS[min(attempt, len(RETRY_WAITS_SECONDS) - 1)])
        _give_up(cloud, function, config, event=event, error=json.loads(result), attempts=attempts)
        return ""

    return invoke


def _give_up(cloud: Cloud, function: Any, config: dict[str, Any], *, event: Any, error: Any, attempts: int) -> None:
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination and ":sqs:" in destination:
        record = {
            "version": "1.0",
            "timestamp": cloud.clock.now().astimezone(UTC).isoformat(),
            "requestContext": {
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": error,
        }
        _send(cloud, destination, json.dumps(record))


def _send(cloud: Cloud, queue_arn: str, body: str) -> None:
    sqs = cloud.client("sqs")
    name = queue_arn.rsplit(":", 1)[-1]
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=body)


@contextmanager
def lambda_async(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(LambdaFunction, "invoke", _delivering(cloud, LambdaFunction.invoke)):
        yield
