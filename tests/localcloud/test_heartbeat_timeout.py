"""A missed heartbeat fails as States.HeartbeatTimeout, which States.Timeout also matches, as on AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.heartbeat_timeout import heartbeat_timeout
from tests.helpers import queue
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud


def silent_worker(queue_url: str, catch: list[str] | None = None) -> dict[str, Any]:
    """A workflow whose worker must send a heartbeat every five minutes, and never does."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": 86_400,
        "HeartbeatSeconds": 300,
        "End": True,
    }
    if catch:
        task["Catch"] = [{"ErrorEquals": catch, "ResultPath": "$.failure", "Next": "Report the lost worker"}]
    return {
        "StartAt": "Wait for the worker",
        "States": {
            "Wait for the worker": task,
            "Report the lost worker": {"Type": "Pass", "End": True},
        },
    }


def run(cloud: LocalCloud, catch: list[str] | None = None) -> dict[str, Any]:
    url, _ = queue(cloud, "work")
    execution = start(cloud, "silent", silent_worker(url, catch))
    cloud.run_until_idle(timeout=5)
    return outcome(cloud, execution)


def test_gap_moto_calls_a_missed_heartbeat_a_timeout() -> None:
    with small_cloud(without=[heartbeat_timeout]) as cloud:
        result = run(cloud)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Timeout"


def test_fix_a_missed_heartbeat_is_a_heartbeat_timeout() -> None:
    with small_cloud() as cloud:
        result = run(cloud)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.HeartbeatTimeout"
    [timed_out] = [e for e in result["events"] if e["type"] == "TaskTimedOut"]
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"


@pytest.mark.parametrize("error_equals", [["States.HeartbeatTimeout"], ["States.Timeout"], ["States.ALL"]])
def test_fix_catch_matches_it_by_its_name_as_a_timeout_or_as_any_error(error_equals: list[str]) -> None:
    with small_cloud() as cloud:
        result = run(cloud, catch=error_equals)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["failure"]["Error"] == "States.HeartbeatTimeout"


def test_fix_a_task_timeout_is_still_a_timeout() -> None:
    with small_cloud() as cloud:
        url, _ = queue(cloud, "work")
        definition = silent_worker(url)
        task = definition["States"]["Wait for the worker"]
        task["TimeoutSeconds"] = 60
        del task["HeartbeatSeconds"]
        execution = start(cloud, "slow", definition)
        cloud.run_until_idle(timeout=5)
        result = outcome(cloud, execution)
    assert result["error"] == "States.Timeout"
