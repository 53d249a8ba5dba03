"""Gap: moto's EventBridge cannot deliver to Lambda functions or state machines.

``PutEvents`` on a rule whose target is a function or a state machine raises
``NotImplementedError`` in moto. Fix: deliver as EventBridge does: an asynchronous invoke of
the function, or a new execution of the state machine, with the target's ``Input``,
``InputPath`` or ``InputTransformer`` applied. Other targets stay with moto.
EventBridge invokes a function as ``events.amazonaws.com`` for the rule (the function's resource
policy must allow it) and starts an execution as the target's role (its trust policy must let
EventBridge assume it). A delivery refused with a retriable error (a throttle, a server error) is
retried with exponential back-off on stack time, as the target's ``RetryPolicy`` allows
(``MaximumRetryAttempts``, 185 by default; ``MaximumEventAgeInSeconds``, 24 hours by default,
counted from when the bus received the event); one refused otherwise (permissions) is not retried.
An event that is not delivered goes to the target's dead-letter queue, sent as
``events.amazonaws.com`` for the rule, with the rule, the target, the error and the exhausted
retry condition as attributes; without one it is dropped. Each target is one channel of the
cloud's deliveries (:mod:`localcloud.delivery`), moto's own targets (queues, topics...) included,
so in the at-least-once mode a target may get an event twice, or after later ones.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from botocore.exceptions import ClientError
from moto.events.models import Rule
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.utilities.arns import parse_arn

from localcloud.arns import queue_url
from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud

HANDLED_SERVICES = {"lambda", "states"}
EVENTS = "events.amazonaws.com"
DEFAULT_RETRIES = 185
DEFAULT_MAXIMUM_AGE_SECONDS = 24 * 60 * 60
# Back-off between attempts, doubling from the first and capped (stack time; no jitter, so runs repeat).
FIRST_RETRY_SECONDS = 1
LONGEST_RETRY_SECONDS = 300
RETRIABLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceException",
    "ServiceUnavailable",
    "InternalServerError",
}
DENIED_CODES = {"AccessDeniedException", "AccessDenied", "AuthorizationError"}


class LocalCloudTargetError(Exception):
    """A rule's target cannot be delivered to as configured."""


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What the target receives for ``event``."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        value: Any = event
        for part in target["InputPath"].removeprefix("$").strip(".").split("."):
            value = value[part] if part else value
        return value
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=cast(EventMessageType, event),
        )
    return event


def _deliver(cloud: Cloud, rule_arn: str, target: dict[str, Any], payload: Any) -> None:
    if ":lambda:" in target["Arn"]:
        events = cloud.client("lambda", principal=EVENTS, source_arn=rule_arn)
        events.invoke(FunctionName=target["Arn"], InvocationType="Event", Payload=json.dumps(payload).encode())
        return
    role = target.get("RoleArn")
    if not role:
        raise LocalCloudTargetError(f"rule {rule_arn}: target {target['Arn']} has no RoleArn to start executions with")
    sfn = cloud.client("stepfunctions", principal=role, assumed_by=EVENTS, source_arn=rule_arn)
    sfn.start_execution(stateMachineArn=target["Arn"], input=json.dumps(payload))


def _is_retriable(error: ClientError) -> bool:
    """A throttle or a server error: EventBridge tries again; other refusals it does not."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return error.response["Error"]["Code"] in RETRIABLE_CODES or status == 429 or status >= 500


def _error_code(error: ClientError) -> str:
    """``NO_PERMISSIONS`` for a refusal of permissions; otherwise the target service's own code."""
    code = str(error.response["Error"]["Code"])
    return "NO_PERMISSIONS" if code in DENIED_CODES else code


def _backoff_seconds(retry: int) -> float:
    return float(min(FIRST_RETRY_SECONDS * 2**retry, LONGEST_RETRY_SECONDS))


def _attempt(
    cloud: Cloud, rule_arn: str, target: dict[str, Any], event: dict[str, Any], *, payload: Any, received: datetime
) -> None:
    """Deliver to one target, retrying as its RetryPolicy allows; dead-letter what is not delivered."""
    policy = target.get("RetryPolicy") or {}
    maximum_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRIES))
    maximum_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_AGE_SECONDS))
    waited = 0.0
    retries = 0
    while True:
        try:
            _deliver(cloud, rule_arn, target, payload)
            return
        except ClientError as error:
            if not _is_retriable(error):
                _dead_letter(cloud, rule_arn, target, event, error, retries=retries, exhausted=None)
                return
            wait = _backoff_seconds(retries)
            if retries >= maximum_retries:
                exhausted = "MaximumRetryAttempts"
            elif (cloud.clock.now() - received).total_seconds() + waited + wait > maximum_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                cloud.clock.sleep(wait)
                waited += wait
                retries += 1
                continue
            _dead_letter(cloud, rule_arn, target, event, error, retries=retries, exhausted=exhausted)
            return


def _dead_letter(
    cloud: Cloud,
    rule_arn: str,
    target: dict[str, Any],
    event: dict[str, Any],
    error: ClientError,
    *,
    retries: int,
    exhausted: str | None,
) -> None:
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    sqs = cloud.client("sqs", principal=EVENTS, source_arn=rule_arn)
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target["Arn"],
        "ERROR_CODE": _error_code(error),
        "ERROR_MESSAGE": error.response["Error"].get("Message", ""),
        "RETRY_ATTEMPTS": str(retries),
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
    # EventBridge drops a dead letter it may not send (its InvocationsFailedToBeSentToDlq metric counts it).
    with suppress(ClientError):
        sqs.send_message(
            QueueUrl=queue_url(queue_arn),
            MessageBody=json.dumps(event, default=str),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )


def _for_moto(event: dict[str, Any], *, transformed: bool) -> dict[str, Any]:
    """The event as moto's own targets read it: ``time`` in seconds since the epoch (moto writes it
    back in ISO 8601), and ``ingestion-time`` for an input transformer, which needs one.

    Services that deliver events themselves (CloudTrail) write ``time`` as AWS does, in ISO 8601.
    """
    moved = dict(event)
    if isinstance(moved.get("time"), str):
        moved["time"] = datetime.strptime(moved["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    if transformed:
        moved.setdefault("ingestion-time", moved["time"])
    else:
        moved.pop("ingestion-time", None)
    return moved


def _delivering(cloud: Cloud, original: Callable[..., None]) -> Callable[..., None]:
    lock = threading.RLock()

    def moto_delivers(rule: Any, target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> None:
        # Moto sends to every target of the rule: show it this one alone.
        with lock:
            all_targets = rule.targets
            rule.targets = [target]
            try:
                if transform_input and "InputTransformer" not in target:
                    # Moto's default input template drops "account": the event goes as it is.
                    original(rule, _for_moto(event, transformed=False), False)
                else:
                    original(rule, _for_moto(event, transformed=True), transform_input)
            finally:
                rule.targets = all_targets

    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not rule.event_pattern.matches_event(original_event):
            return
        received = cloud.clock.now()
        for target in list(rule.targets):
            name = channel(cloud.physical_ids, "events", rule.arn, target["Id"])
            if parse_arn(target["Arn"]).service not in HANDLED_SERVICES:
                send = partial(moto_delivers, rule, target, original_event, transform_input)
            else:
                payload = target_input(target, original_event) if transform_input else original_event
                send = partial(_attempt, cloud, rule.arn, target, original_event, payload=payload, received=received)
            cloud.deliveries.deliver(name, send)

    return send_to_targets


@contextmanager
def eventbridge_targets(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(Rule, "send_to_targets", _delivering(cloud, Rule.send_to_targets)):
        yield
