"""aws-sdk task parameters reach camelCase APIs, and results come back in PascalCase."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.sdk_parameters import sdk_parameters
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

CREATE_THING_GROUP: dict[str, Any] = {
    "StartAt": "Create thing group",
    "States": {
        "Create thing group": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:iot:createThingGroup",
            "Parameters": {"ThingGroupName": "edge-fleet"},
            "ResultSelector": {"arn.$": "$.ThingGroupArn"},
            "End": True,
        }
    },
}


def test_gap_moto_passes_pascal_case_keys_that_boto3_drops() -> None:
    with cloud_without(sdk_parameters) as cloud:
        result = cloud.run_state_machine("create-group", CREATE_THING_GROUP)
        groups = cloud.client("iot").list_thing_groups()["thingGroups"]
    assert result["status"] == "FAILED"
    assert "edge-fleet" not in [g["groupName"] for g in groups]


def test_fix_parameters_reach_the_api_and_the_result_is_pascal_case(cloud: LocalCloud) -> None:
    result = cloud.run_state_machine("create-group", CREATE_THING_GROUP)
    assert result["status"] == "SUCCEEDED", result
    group = cloud.client("iot").describe_thing_group(thingGroupName="edge-fleet")
    assert json.loads(result["output"]) == {"arn": group["thingGroupArn"]}
