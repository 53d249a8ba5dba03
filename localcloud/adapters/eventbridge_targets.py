"""Gap: moto's EventBridge cannot deliver to Lambda functions or state machines.

``PutEvents`` on a rule whose target is a function or a state machine raises
``NotImplementedError`` in moto. Fix: deliver as EventBridge does: an asynchronous invoke of
the function, or a new execution of the state machine, with the target's ``Input``,
``InputPath`` or ``InputTransformer`` applied. Other targets stay with moto.
EventBridge invokes a function as ``events.amazonaws.com`` for the rule (the function's resource
policy must allow it) and starts an execution as the target's role (its trust policy must let
EventBridge assume it). A delivery refused for permissions goes, without retries, to the
target's dead-letter queue, sent as ``events.amazonaws.com`` for the rule; without one it is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from botocore.exceptions import ClientError
from moto.events.models import Rule
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.utilities.arns import parse_arn

from localcloud.arns import queue_url

if TYPE_CHECKING:
    from localcloud.interface import Cloud

HANDLED_SERVICES = {"lambda", "states"}
EVENTS = "events.amazonaws.com"


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


def _dead_letter(
    cloud: Cloud, rule_arn: str, target: dict[str, Any], event: dict[str, Any], error: ClientError
) -> None:
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    sqs = cloud.client("sqs", principal=EVENTS, source_arn=rule_arn)
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target["Arn"],
        "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": error.response["Error"].get("Message", ""),
    }
    sqs.send_message(
        QueueUrl=queue_url(queue_arn),
        MessageBody=json.dumps(event, default=str),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def _delivering(cloud: Cloud, original: Callable[..., None]) -> Callable[..., None]:
    def send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if not rule.event_pattern.matches_event(original_event):
            return
        others = []
        for target in rule.targets:
            arn = parse_arn(target["Arn"])
            if arn.service not in HANDLED_SERVICES:
                others.append(target)
                continue
            payload = target_input(target, original_event) if transform_input else original_event
            try:
                _deliver(cloud, rule.arn, target, payload)
            except ClientError as error:
                _dead_letter(cloud, rule.arn, target, original_event, error)
        if others:
            all_targets = rule.targets
            rule.targets = others
            try:
                original(rule, original_event, transform_input)
            finally:
                rule.targets = all_targets

    return send_to_targets


@contextmanager
def eventbridge_targets(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(Rule, "send_to_targets", _delivering(cloud, Rule.send_to_targets)):
        yield
