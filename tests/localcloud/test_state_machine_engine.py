"""The local cloud runs ASL with in-process handlers, on stack time."""

from __future__ import annotations

import json
import time

import pytest

from localcloud import LocalCloud
from tests.conftest import FIXTURES
from tests.localcloud.conftest import service_role

pytestmark = pytest.mark.localcloud

ITEMS = [
    {"item": "steady", "transient_failures": 0, "permanent": False},
    {"item": "flaky", "transient_failures": 2, "permanent": False},
    {"item": "broken", "transient_failures": 0, "permanent": True},
]


def engine_check(cloud: LocalCloud, health_arn: str, flaky_arn: str) -> str:
    """Create the engine-check workflow with its two functions; return its ARN."""
    definition = (
        (FIXTURES / "statemachines" / "engine_check.asl.json")
        .read_text()
        .replace("${HealthFunctionArn}", health_arn)
        .replace("${FlakyFunctionArn}", flaky_arn)
    )
    role = service_role(
        cloud,
        "engine-check",
        "states.amazonaws.com",
        {"Action": "lambda:InvokeFunction", "Resource": sorted({health_arn, flaky_arn})},
    )
    machine: str = cloud.client("stepfunctions").create_state_machine(
        name="engine-check", definition=definition, roleArn=role
    )["stateMachineArn"]
    return machine


def test_choice_wait_map_retry_and_catch_run_in_stack_time(cloud: LocalCloud) -> None:
    # Given a workflow that checks health, waits ten minutes, then maps over flaky items
    flaky_arn = cloud.deploy_function("flaky", FIXTURES / "functions" / "flaky")
    health = cloud.client("lambda").get_function(FunctionName=cloud.outputs["HealthFunctionName"])
    machine = engine_check(cloud, health["Configuration"]["FunctionArn"], flaky_arn)
    sfn = cloud.client("stepfunctions")
    # When it runs
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, name="engine-check-1", input=json.dumps({"items": ITEMS}))[
        "executionArn"
    ]
    cloud.run_until_idle()
    elapsed = time.monotonic() - started
    # Then it succeeds: the flaky item after two retries, the broken one caught and set aside
    result = sfn.describe_execution(executionArn=execution)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["health"] == {"version": cloud.outputs["Version"]}
    assert output["results"] == [
        {"item": "steady", "status": "processed", "attempts": 1},
        {"item": "flaky", "status": "processed", "attempts": 3},
        {"item": "broken", "status": "set aside", "error": "PermanentError"},
    ]
    # And ten minutes of Wait plus the retry back-off took seconds, not minutes
    assert elapsed < 5.0
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert any(e["type"] == "WaitStateExited" for e in history)


def test_a_handler_exception_is_caught_by_its_class_name(cloud: LocalCloud) -> None:
    # Given the same workflow with its health step pointed at a function that raises KeyError
    flaky_arn = cloud.deploy_function("flaky", FIXTURES / "functions" / "flaky")
    machine = engine_check(cloud, health_arn=flaky_arn, flaky_arn=flaky_arn)
    sfn = cloud.client("stepfunctions")
    # When it runs
    execution = sfn.start_execution(stateMachineArn=machine, name="engine-check-2", input=json.dumps({"items": []}))[
        "executionArn"
    ]
    cloud.run_until_idle()
    # Then the task failed with the exception's class name and Catch led to the Fail state
    history = sfn.get_execution_history(executionArn=execution)["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["KeyError"]
    result = sfn.describe_execution(executionArn=execution)
    assert result["status"] == "FAILED"
    assert result["error"] == "StackUnhealthy"
