"""aws-sdk task errors are named as Step Functions names them, so AWS-style Catch blocks match."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.sdk_errors import sdk_errors, service_error_name
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud


def read_missing_object(bucket: str) -> dict[str, Any]:
    return {
        "StartAt": "Read object",
        "States": {
            "Read object": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "missing.csv"},
                "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Report missing object"}],
                "End": True,
            },
            "Report missing object": {"Type": "Pass", "Result": {"object": "missing"}, "End": True},
        },
    }


def test_gap_moto_names_the_error_after_the_lower_case_api() -> None:
    with cloud_without(sdk_errors) as cloud:
        result = cloud.run_state_machine("read", read_missing_object(cloud.outputs["DataBucketName"]))
    assert result["status"] == "FAILED"
    assert result["error"] == "s3.NoSuchKeyException"


def test_fix_the_aws_error_name_is_caught(cloud: LocalCloud) -> None:
    result = cloud.run_state_machine("read", read_missing_object(cloud.outputs["DataBucketName"]))
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"object": "missing"}


@pytest.mark.parametrize(
    ("service", "expected"),
    [("s3", "S3"), ("sagemaker", "SageMaker"), ("greengrassv2", "GreengrassV2"), ("iot", "Iot")],
)
def test_services_are_spelt_as_the_sdk_client(service: str, expected: str) -> None:
    assert service_error_name(service) == expected
