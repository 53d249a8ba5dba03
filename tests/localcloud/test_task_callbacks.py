"""SendTaskFailure fails the waiting task with its error and its cause, and task callbacks work while
another execution starts, as on AWS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from localcloud import LocalCloud
from localcloud.adapters.task_callbacks import task_callbacks
from tests.helpers import queue
from tests.localcloud.small_stack import machine_role, outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

CAUSE = "Threshold Crossed: 1 out of the last 1 datapoints [0.2 (26/11/26 11:03:00)] was greater than the threshold"


def verdict_awaited(queue_url: str, *, catch: bool, heartbeat_seconds: int | None = None) -> dict[str, Any]:
    """A workflow that hands a task token to a worker and waits for its verdict (and its heartbeats)."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    if heartbeat_seconds is not None:
        task["HeartbeatSeconds"] = heartbeat_seconds
    if catch:
        del task["End"]
        task["Next"] = "Roll back"
        task["Catch"] = [{"ErrorEquals": ["CanaryRejected"], "ResultPath": "$.rejection", "Next": "Roll back"}]
    return {
        "StartAt": "Wait for the verdict",
        "States": {"Wait for the verdict": task, "Roll back": {"Type": "Pass", "End": True}},
    }


def awaiting_verdict(cloud: LocalCloud, *, catch: bool, heartbeat_seconds: int | None = None) -> tuple[str, str]:
    """Start the workflow and take its task token from the worker's queue: (execution ARN, token)."""
    url, _ = queue(cloud, "verdicts")
    execution = start(cloud, "verdict", verdict_awaited(url, catch=catch, heartbeat_seconds=heartbeat_seconds))
    sqs = cloud.client("sqs")
    # (generous: a loaded 2-core machine can take seconds to run the state machine's first task)
    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
    token: str = json.loads(messages[0]["Body"])["token"]
    return execution, token


def reject(cloud: LocalCloud, *, catch: bool) -> dict[str, Any]:
    """Run the workflow; the worker rejects its task with an error and a cause."""
    execution, token = awaiting_verdict(cloud, catch=catch)
    cloud.client("stepfunctions").send_task_failure(taskToken=token, error="CanaryRejected", cause=CAUSE)
    cloud.run_until_idle(timeout=30)
    return outcome(cloud, execution)


def task_failed(result: dict[str, Any]) -> dict[str, Any]:
    [event] = [e for e in result["events"] if e["type"] == "TaskFailed"]
    details: dict[str, Any] = event["taskFailedEventDetails"]
    return details


def test_gap_moto_drops_the_cause() -> None:
    with small_cloud(without=[task_callbacks]) as cloud:
        result = reject(cloud, catch=True)
    assert json.loads(result["output"])["rejection"] == {"Error": "CanaryRejected", "Cause": None}
    assert "cause" not in task_failed(result)


def test_fix_a_catch_sees_the_error_and_the_cause() -> None:
    with small_cloud() as cloud:
        result = reject(cloud, catch=True)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["rejection"] == {"Error": "CanaryRejected", "Cause": CAUSE}


def test_fix_the_history_and_the_failed_execution_carry_both() -> None:
    with small_cloud() as cloud:
        result = reject(cloud, catch=False)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "CanaryRejected", CAUSE)
    assert (task_failed(result)["error"], task_failed(result)["cause"]) == ("CanaryRejected", CAUSE)


def created_first(cloud: LocalCloud) -> str:
    """A state machine created before the test's own: moto asks executions in the order of their machines."""
    machine: str = cloud.client("stepfunctions").create_state_machine(
        name="other",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=machine_role(cloud, "other-machine"),
    )["stateMachineArn"]
    return machine


@contextmanager
def starting(cloud: LocalCloud, machine: str) -> Iterator[None]:
    """An execution of ``machine`` started and held before its interpreter has an environment (as while it
    parses its definition), until exit."""
    release = threading.Event()
    entrypoint = ExecutionWorker._get_evaluation_entrypoint

    def parsing_slowly(worker: ExecutionWorker) -> Any:
        release.wait(timeout=30)
        return entrypoint(worker)

    with mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", parsing_slowly):
        cloud.client("stepfunctions").start_execution(stateMachineArn=machine)
        try:
            yield
        finally:
            release.set()


# The task expects a heartbeat within 5 minutes of stack time, which runs at wall speed here.
HEARTBEAT = {"heartbeat_seconds": 300}


def test_gap_moto_callbacks_fail_while_another_execution_starts() -> None:
    with small_cloud(without=[task_callbacks], time_scale=1.0) as cloud:
        other = created_first(cloud)
        _, token = awaiting_verdict(cloud, catch=False, **HEARTBEAT)
        with starting(cloud, other), pytest.raises(AttributeError, match="callback_pool_manager"):
            cloud.client("stepfunctions").send_task_heartbeat(taskToken=token)
        cloud.run_until_idle(timeout=30, waiting=False)  # the other execution has started and ended
        cloud.client("stepfunctions").send_task_success(taskToken=token, output="{}")
        cloud.run_until_idle(timeout=30)


def test_fix_a_heartbeat_and_a_verdict_reach_the_task_while_another_execution_starts() -> None:
    with small_cloud(time_scale=1.0) as cloud:
        other = created_first(cloud)
        execution, token = awaiting_verdict(cloud, catch=False, **HEARTBEAT)
        with starting(cloud, other):
            cloud.client("stepfunctions").send_task_heartbeat(taskToken=token)
            cloud.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"verdict": "ok"}))
        cloud.run_until_idle(timeout=30)
        result = outcome(cloud, execution)
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", {"verdict": "ok"})
