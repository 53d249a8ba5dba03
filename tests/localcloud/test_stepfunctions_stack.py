"""State machines of the stack are reachable through the Step Functions API."""

from __future__ import annotations

import pytest

from localcloud import LocalCloud
from localcloud.adapters.stepfunctions_stack import stepfunctions_stack
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud


def test_gap_moto_hides_stack_state_machines_from_the_api() -> None:
    with cloud_without(stepfunctions_stack) as cloud:
        arn = cloud.outputs["RetrainingStateMachineArn"]
        assert arn not in [
            m["stateMachineArn"] for m in cloud.client("stepfunctions").list_state_machines()["stateMachines"]
        ]


def test_fix_the_stack_state_machine_is_described_with_its_definition(cloud: LocalCloud) -> None:
    described = cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=cloud.outputs["RetrainingStateMachineArn"]
    )
    definition = described["definition"]
    assert '"StartAt": "Check the release freeze"' in definition
    assert cloud.outputs["StateTableName"] in definition
    assert "${" not in definition
