"""Closing a local cloud stops its executions and waits for them: no thread of one goes on after it.

Moto's backends belong to the process, and every cloud a test run makes has resources of the same
names. An execution still running when its test ended (a canary baking, say) would otherwise go on
while the next cloud runs, with its tasks reaching that cloud's backends.
"""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import FIXTURES
from tests.localcloud.small_stack import machine_role, small_cloud

pytestmark = pytest.mark.localcloud

# A day of stack time: 8.64 s of wall time at the default scale, far longer than closing takes.
WAIT_SECONDS = 86_400


def execution_threads() -> list[threading.Thread]:
    """The threads of moto's Step Functions interpreter that run executions, alive now."""
    return [thread for thread in threading.enumerate() if "_execution_logic" in thread.name]


def test_an_execution_running_when_its_cloud_closes_is_stopped_with_it() -> None:
    # Given a cloud with an execution waiting a day of stack time before it invokes a function
    with small_cloud() as cloud:
        function = cloud.deploy_function("late", FIXTURES / "functions" / "clock")
        definition = {
            "StartAt": "Wait a day",
            "States": {
                "Wait a day": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": "Invoke"},
                "Invoke": {"Type": "Task", "Resource": function, "End": True},
            },
        }
        sfn = cloud.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="late", definition=json.dumps(definition), roleArn=machine_role(cloud, "late")
        )
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"])
        assert execution_threads()
    # When the cloud closes before the day is up
    # Then the execution's thread has ended with it, and its function never ran
    assert execution_threads() == []
    assert [invocation.function_name for invocation in cloud.runtime.invocations] == []
