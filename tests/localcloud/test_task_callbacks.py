"""SendTaskFailure fails the waiting task with its error and its cause, as on AWS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.task_callbacks import task_callbacks
from tests.helpers import queue
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

CAUSE = "Threshold Crossed: 1 out of the last 1 datapoints [0.2 (26/11/26 11:03:00)] was greater than the threshold"


def verdict_awaited(queue_url: str, *, catch: bool) -> dict[str, Any]:
    """A workflow that hands a task token to a worker and waits for its verdict."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    if catch:
        del task["End"]
        task["Next"] = "Roll back"
        task["Catch"] = [{"ErrorEquals": ["CanaryRejected"], "ResultPath": "$.rejection", "Next": "Roll back"}]
    return {
        "StartAt": "Wait for the verdict",
        "States": {"Wait for the verdict": task, "Roll back": {"Type": "Pass", "End": True}},
    }


def reject(cloud: LocalCloud, *, catch: bool) -> dict[str, Any]:
    """Run the workflow; the worker rejects its task with an error and a cause."""
    url, _ = queue(cloud, "verdicts")
    execution = start(cloud, "verdict", verdict_awaited(url, catch=catch))
    sqs = cloud.client("sqs")
    # (generous: a loaded 2-core machine can take seconds to run the state machine's first task)
    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
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
