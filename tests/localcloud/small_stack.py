"""Helpers for the stack-time tests: a small stack, some adapters left out, state machines started."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from localcloud import LocalCloud
from localcloud.adapters import ALL, Adapter
from localcloud.clock import DEFAULT_SCALE
from tests.conftest import FIXTURES

SMALL_TEMPLATE = FIXTURES / "templates" / "empty.yaml"


@contextmanager
def small_cloud(*, without: Sequence[Adapter] = (), time_scale: float = DEFAULT_SCALE) -> Iterator[LocalCloud]:
    """A one-topic stack deployed with every adapter but those in ``without``."""
    adapters = [a for a in ALL if a not in without]
    with LocalCloud.from_template(SMALL_TEMPLATE, adapters=adapters, time_scale=time_scale) as cloud:
        yield cloud


def machine_role(cloud: LocalCloud, name: str) -> str:
    """A role for a test's state machine, allowed every action: these tests are about time."""
    iam = cloud.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn: str = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_role_policy(
        RoleName=name,
        PolicyName="everything",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    return arn


def start(cloud: LocalCloud, name: str, definition: dict[str, Any], execution_input: Any = None) -> str:
    """Create a state machine and start one execution of it; return the execution's ARN."""
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=machine_role(cloud, f"{name}-machine")
    )["stateMachineArn"]
    execution: str = sfn.start_execution(
        stateMachineArn=machine, name=f"{name}-1", input=json.dumps(execution_input or {})
    )["executionArn"]
    return execution


def outcome(cloud: LocalCloud, execution: str) -> dict[str, Any]:
    """The description of a finished execution, with its history's events under ``events``."""
    sfn = cloud.client("stepfunctions")
    description: dict[str, Any] = sfn.describe_execution(executionArn=execution)
    description["events"] = sfn.get_execution_history(executionArn=execution)["events"]
    return description
