"""Gap: aws-sdk task errors carry the wrong service prefix in moto.

Step Functions names an aws-sdk error ``<Service>.<Exception>``, with the service spelt as the
SDK's client (``S3.NoSuchKeyException``, ``SageMaker.ResourceNotFoundException``). Moto spells it
as the lower-case API name (``s3.NoSuchKeyException``) for every service but DynamoDB and Step
Functions, so a Catch written for AWS never matches. Fix: the SDK's spelling for each service.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from unittest import mock

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)

if TYPE_CHECKING:
    from localcloud.interface import Cloud

# Services whose SDK client name is not the API name with its first letter capitalised.
SERVICE_ERROR_NAMES = {
    "cloudformation": "CloudFormation",
    "cloudtrail": "CloudTrail",
    "cloudwatch": "CloudWatch",
    "dynamodb": "DynamoDb",
    "eventbridge": "EventBridge",
    "greengrassv2": "GreengrassV2",
    "s3control": "S3Control",
    "sagemaker": "SageMaker",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
}


def service_error_name(service_name: str) -> str:
    """The prefix Step Functions gives errors of an aws-sdk task on ``service_name``."""
    lower = service_name.lower()
    return SERVICE_ERROR_NAMES.get(lower, lower[:1].upper() + lower[1:])


@contextmanager
def sdk_errors(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(
        state_task_service_aws_sdk.StateTaskServiceAwsSdk,
        "_normalise_service_error_name",
        staticmethod(service_error_name),
    ):
        yield
