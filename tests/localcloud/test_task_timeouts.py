"""A task's TimeoutSeconds and HeartbeatSeconds count stack time: scaled waiting, real work."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.task_timeouts import task_timeouts
from localcloud.cloud import LocalCloudError
from tests.conftest import FIXTURES
from tests.helpers import queue
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

AN_HOUR = 3600
A_DAY = 86_400


def wait_for_token(queue_url: str, *, timeout: int, heartbeat: int | None = None) -> dict[str, Any]:
    """A workflow that hands a task token to a queue and waits for someone to answer."""
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": timeout,
        "End": True,
    }
    if heartbeat is not None:
        task["HeartbeatSeconds"] = heartbeat
    return {"StartAt": "Wait for an answer", "States": {"Wait for an answer": task}}


def unanswered(cloud: LocalCloud, *, timeout: int, heartbeat: int | None = None) -> str:
    """Start a token workflow that nobody answers; return the execution ARN."""
    url, _ = queue(cloud, "answers")
    return start(cloud, "unanswered", wait_for_token(url, timeout=timeout, heartbeat=heartbeat))


def task_token(cloud: LocalCloud, queue_url: str) -> str:
    """The task token a token workflow handed to the queue (waiting up to 5 s of real time for it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for message in cloud.client("sqs").receive_message(QueueUrl=queue_url).get("Messages", []):
            token: str = json.loads(message["Body"])["token"]
            return token
        time.sleep(0.01)
    raise AssertionError(f"no task token reached {queue_url}")


def test_gap_moto_waits_out_a_task_timeout_in_real_time() -> None:
    with small_cloud(without=[task_timeouts]) as cloud:
        execution = unanswered(cloud, timeout=AN_HOUR)
        with pytest.raises(LocalCloudError, match="still running"):
            cloud.run_until_idle(timeout=2)
        cloud.client("stepfunctions").stop_execution(executionArn=execution)


def test_fix_an_unanswered_task_times_out_after_its_timeout_in_stack_time() -> None:
    with small_cloud() as cloud:
        # Given a task that waits an hour for its token (0.36 s of wall time by default)
        started = time.monotonic()
        execution = unanswered(cloud, timeout=AN_HOUR)
        # When nobody answers
        cloud.run_until_idle()
        result = outcome(cloud, execution)
    # Then it timed out, after waiting for the scaled hour
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Timeout"
    assert 0.3 < time.monotonic() - started < 5.0


def test_gap_moto_notices_a_missed_heartbeat_in_real_time() -> None:
    with small_cloud(without=[task_timeouts]) as cloud:
        execution = unanswered(cloud, timeout=A_DAY, heartbeat=5 * 60)
        with pytest.raises(LocalCloudError, match="still running"):
            cloud.run_until_idle(timeout=2)
        cloud.client("stepfunctions").stop_execution(executionArn=execution)


def test_fix_a_missed_heartbeat_is_noticed_after_heartbeat_seconds_of_stack_time() -> None:
    with small_cloud() as cloud:
        execution = unanswered(cloud, timeout=A_DAY, heartbeat=5 * 60)
        cloud.run_until_idle(timeout=5)
        result = outcome(cloud, execution)
    assert result["status"] == "FAILED"
    assert any(e["type"] == "TaskTimedOut" for e in result["events"])


def test_fix_heartbeats_in_time_keep_a_task_alive() -> None:
    # A minute of heartbeat interval is 0.6 s of wall time at this scale
    with small_cloud(time_scale=1e-2) as cloud:
        sfn = cloud.client("stepfunctions")
        url, _ = queue(cloud, "answers")
        execution = start(cloud, "answered", wait_for_token(url, timeout=AN_HOUR, heartbeat=60))
        token = task_token(cloud, url)
        # When the worker sends a heartbeat every 6 s of stack time for two heartbeat intervals
        for _ in range(20):
            sfn.send_task_heartbeat(taskToken=token)
            time.sleep(0.06)
        sfn.send_task_success(taskToken=token, output='{"answer": 42}')
        cloud.run_until_idle()
        result = outcome(cloud, execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"answer": 42}


def test_fix_a_handler_s_real_work_counts_at_wall_speed() -> None:
    # Given a Lambda task with a one-minute timeout (6 ms of idle wall time by default)
    with small_cloud() as cloud:
        arn = cloud.deploy_function("clock", FIXTURES / "functions" / "clock")
        definition = {
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": {"work_seconds": 0.3}},
                    "TimeoutSeconds": 60,
                    "End": True,
                }
            },
        }
        # When its handler works for 0.3 s of real time
        execution = start(cloud, "work", definition)
        cloud.run_until_idle()
        # Then the work fits in the timeout, as it would on AWS
        result = outcome(cloud, execution)
        assert result["status"] == "SUCCEEDED"
