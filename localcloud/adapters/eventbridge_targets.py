"""Gap: moto's EventBridge cannot deliver to Lambda functions or state machines.

``PutEvents`` on a rule whose target is a function or a state machine raises
``NotImplementedError`` in moto. Fix: deliver as EventBridge does: an asynchronous invoke of
the function, or a new execution of the state machine, with the target's ``Input``,
``InputPath`` or ``InputTransformer`` applied. Other targets stay with moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from moto.events.models import Rule
from moto.events.utils import EventMessageType, EventTemplateParser
from moto.utilities.arns import parse_arn

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

HANDLED_SERVICES = {"lambda", "states"}


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


def _delivering(cloud: LocalCloud, original: Callable[..., None]) -> Callable[..., None]:
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
            if arn.service == "lambda":
                cloud.client("lambda").invoke(
                    FunctionName=target["Arn"], InvocationType="Event", Payload=json.dumps(payload).encode()
                )
            else:
                cloud.client("stepfunctions").start_execution(stateMachineArn=target["Arn"], input=json.dumps(payload))
        if others:
            all_targets = rule.targets
            rule.targets = others
            try:
                original(rule, original_event, transform_input)
            finally:
                rule.targets = all_targets

    return send_to_targets


@contextmanager
def eventbridge_targets(cloud: LocalCloud) -> Iterator[None]:
    with mock.patch.object(Rule, "send_to_targets", _delivering(cloud, Rule.send_to_targets)):
        yield
