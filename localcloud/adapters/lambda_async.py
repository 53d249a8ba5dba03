"""Gap: moto's asynchronous Lambda invocations neither retry, nor expire, nor reach a dead-letter queue.

Lambda queues an asynchronous invocation, retries it ``MaximumRetryAttempts`` times (two by
default) when the function fails, waiting between attempts, and drops an event older than
``MaximumEventAgeInSeconds`` (six hours by default) without running it again. A dropped event
goes to the function's on-failure destination as an invocation record (condition
``RetriesExhausted`` or ``EventAgeExceeded``) and to its dead-letter queue, if it has them (AWS
sends to both when both are set): the dead letter is the event itself, with ``RequestID``,
``ErrorCode`` and ``ErrorMessage`` attributes, sent as the function's execution role. Moto runs
the event once and forgets it, and drops the function's ``DeadLetterConfig``. Fix: all of that,
on stack time (an event's age counts the waits between its attempts); the queue is one channel
of the cloud's deliveries (:mod:`localcloud.delivery`), so in the at-least-once mode an event may
run twice, or after later ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction

from localcloud.arns import queue_url
from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud

DEFAULT_RETRIES = 2
DEFAULT_MAXIMUM_AGE_SECONDS = 6 * 60 * 60
RETRY_WAITS_SECONDS = (60, 120)
LAMBDA = "lambda.amazonaws.com"


def _config(function: Any) -> dict[str, Any]:
    configs = function.event_invoke_config
    return dict(configs[0].config) if configs else {}


def _delivering(cloud: Cloud, original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(function: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        if request_headers.get("x-amz-invocation-type") != "Event":
            return original(function, body, request_headers, response_headers)
        event = json.loads(body) if body else {}
        queued = cloud.clock.now()
        name = channel(cloud.physical_ids, "lambda", function.function_name)
        cloud.deliveries.deliver(name, lambda: _run(cloud, function, event, queued))
        return ""

    return invoke


def _run(cloud: Cloud, function: Any, event: Any, queued: datetime) -> None:
    """Run a queued event until it succeeds, its attempts run out, or it is too old."""
    config = _config(function)
    attempts = 1 + int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
    maximum_age = int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_AGE_SECONDS))
    waited = 0.0
    error: Any = None
    for attempt in range(attempts):
        if (cloud.clock.now() - queued).total_seconds() + waited > maximum_age:
            _give_up(cloud, function, config, event=event, error=error, invoked=attempt, condition="EventAgeExceeded")
            return
        result, errored, _ = function._invoke_lambda(event=event)
        if not errored:
            return
        error = json.loads(result)
        if attempt + 1 < attempts:
            wait = RETRY_WAITS_SECONDS[min(attempt, len(RETRY_WAITS_SECONDS) - 1)]
            cloud.clock.sleep(wait)
            waited += wait
    _give_up(cloud, function, config, event=event, error=error, invoked=attempts, condition="RetriesExhausted")


def _give_up(
    cloud: Cloud, function: Any, config: dict[str, Any], *, event: Any, error: Any, invoked: int, condition: str
) -> None:
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination and ":sqs:" in destination:
        record = {
            "version": "1.0",
            "timestamp": cloud.clock.now().astimezone(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": invoked,
            },
            "requestPayload": event,
        }
        if error is not None:
            record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
            record["responsePayload"] = error
        _send(cloud.client("sqs"), destination, json.dumps(record))
    dead_letters = (getattr(function, "dead_letter_config", None) or {}).get("TargetArn")
    if dead_letters and ":sqs:" in dead_letters:
        message = (error or {}).get("errorMessage", "") if condition == "RetriesExhausted" else "Event age exceeded"
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:1024] or condition},
        }
        sqs = cloud.client("sqs", principal=function.role, assumed_by=LAMBDA)
        # Lambda drops a dead letter it may not send (its DeadLetterErrors metric counts it).
        with suppress(ClientError):
            _send(sqs, dead_letters, json.dumps(event), attributes)


def _send(sqs: Any, queue_arn: str, body: str, attributes: dict[str, Any] | None = None) -> None:
    sqs.send_message(QueueUrl=queue_url(queue_arn), MessageBody=body, MessageAttributes=attributes or {})


def _from_cloudformation_keeping_dead_letters() -> Any:
    """``create_from_cloudformation_json`` that keeps the function's ``DeadLetterConfig``."""
    original = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        function = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        function.dead_letter_config = cloudformation_json["Properties"].get("DeadLetterConfig")
        return function

    return classmethod(create)


def _creating_keeping_dead_letters(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_function(backend: Any, spec: dict[str, Any]) -> Any:
        function = original(backend, spec)
        function.dead_letter_config = spec.get("DeadLetterConfig")
        return function

    return create_function


def _updating_keeping_dead_letters(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_configuration(function: Any, config_updates: dict[str, Any]) -> Any:
        if "DeadLetterConfig" in config_updates:
            function.dead_letter_config = config_updates["DeadLetterConfig"]
        return original(function, config_updates)

    return update_configuration


@contextmanager
def lambda_async(cloud: Cloud) -> Iterator[None]:
    with ExitStack() as stack:
        patch = stack.enter_context
        patch(mock.patch.object(LambdaFunction, "invoke", _delivering(cloud, LambdaFunction.invoke)))
        patch(
            mock.patch.object(
                LambdaFunction, "create_from_cloudformation_json", _from_cloudformation_keeping_dead_letters()
            )
        )
        patch(
            mock.patch.object(
                LambdaBackend, "create_function", _creating_keeping_dead_letters(LambdaBackend.create_function)
            )
        )
        patch(
            mock.patch.object(
                LambdaFunction,
                "update_configuration",
                _updating_keeping_dead_letters(LambdaFunction.update_configuration),
            )
        )
        yield
