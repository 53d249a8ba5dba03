"""aws-sdk task parameters reach camelCase APIs, and results come back in PascalCase."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.sdk_parameters import sdk_parameters, unsupported_fields
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

ROLE_ARN = "arn:aws:iam::123456789012:role/copy-role"
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


COPY_WITH_LOWER_CASE_FIELDS: dict[str, Any] = {
    "StartAt": "Copy report",
    "States": {
        "Copy report": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"bucket": "reports", "Key": "a.json", "Body": "{}"},
            "End": True,
        }
    },
}


def test_gap_moto_accepts_a_field_the_api_does_not_have() -> None:
    with cloud_without(sdk_parameters) as cloud:
        sfn = cloud.client("stepfunctions")
        created = sfn.create_state_machine(
            name="copy", definition=json.dumps(COPY_WITH_LOWER_CASE_FIELDS), roleArn=ROLE_ARN
        )
    assert created["stateMachineArn"].endswith(":copy")


def test_fix_a_field_in_the_wrong_case_fails_creation_with_its_place(cloud: LocalCloud) -> None:
    # Given a state that writes "bucket" where the API's member is "Bucket"
    sfn = cloud.client("stepfunctions")
    # When the state machine is created
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(name="copy", definition=json.dumps(COPY_WITH_LOWER_CASE_FIELDS), roleArn=ROLE_ARN)
    # Then Step Functions refuses it, naming the field and the state
    assert raised.value.response["Error"]["Code"] == "InvalidDefinition"
    message = raised.value.response["Error"]["Message"]
    assert 'The field "bucket" is not supported by Step Functions at /States/Copy report/Parameters' in message


def test_fix_nested_fields_and_paths_are_checked_by_the_api_shape() -> None:
    # Given parameters whose nested member is misspelt, and a path-valued field spelt right
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                "Parameters": {"TableName": "t", "Item": {"id": {"s": "x"}}, "ConditionExpression.$": "$.c"},
                "End": True,
            }
        },
    }
    # Then only the nested misspelling is reported (map keys such as "id" are data, not members)
    assert unsupported_fields(definition) == [
        'The field "s" is not supported by Step Functions at /States/Put/Parameters/Item/id'
    ]
