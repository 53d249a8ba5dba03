"""CloudTrail's record of a call: its name, source, parameters and response as CloudTrail logs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.cloudtrail import Caller, api_call_event, event_name, event_source, logs_management_writes, recorded
from localcloud.cloudtrail.shapes import bridge_source, request_parameters, response_elements
from localcloud.iam import Principal

REGION, ACCOUNT = "us-east-1", "123456789012"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("s3", "PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
        ("s3", "DeletePublicAccessBlock", "DeleteBucketPublicAccessBlock"),
        ("s3", "PutBucketVersioning", "PutBucketVersioning"),
        ("s3", "PutBucketNotificationConfiguration", "PutBucketNotification"),
        ("lambda", "UpdateFunctionConfiguration", "UpdateFunctionConfiguration20150331v2"),
        ("kms", "ScheduleKeyDeletion", "ScheduleKeyDeletion"),
        ("greengrassv2", "CreateDeployment", "CreateDeployment"),
    ],
)
def test_calls_are_named_as_cloudtrail_names_them(service: str, operation: str, expected: str) -> None:
    assert event_name(service, operation) == expected


@pytest.mark.parametrize(
    ("service", "source", "bridged"),
    [
        ("greengrassv2", "greengrass.amazonaws.com", "aws.greengrass"),
        ("sagemaker", "sagemaker.amazonaws.com", "aws.sagemaker"),
        ("cloudwatch", "monitoring.amazonaws.com", "aws.monitoring"),
        ("stepfunctions", "states.amazonaws.com", "aws.states"),
        ("cloudtrail", "cloudtrail.amazonaws.com", "aws.cloudtrail"),
        ("s3", "s3.amazonaws.com", "aws.s3"),
    ],
)
def test_each_service_has_its_event_source_and_eventbridge_source(service: str, source: str, bridged: str) -> None:
    assert (event_source(service), bridge_source(event_source(service))) == (source, bridged)


@pytest.mark.parametrize(
    ("service", "operation", "params", "delivered"),
    [
        ("s3", "PutBucketPolicy", {"Bucket": "b"}, True),
        ("s3", "PutObject", {"Bucket": "b", "Key": "k"}, False),
        ("s3", "DeleteObjects", {"Bucket": "b"}, False),
        ("s3", "GetBucketPolicy", {"Bucket": "b"}, False),
        ("dynamodb", "PutItem", {}, False),
        ("dynamodb", "UpdateTable", {}, True),
        ("lambda", "Invoke", {}, False),
        ("sqs", "SendMessage", {}, False),
        ("sns", "Publish", {}, False),
        ("events", "PutEvents", {}, False),
        ("cloudwatch", "PutMetricData", {}, False),
        ("logs", "PutLogEvents", {}, False),
        ("firehose", "PutRecordBatch", {}, False),
        ("kms", "Decrypt", {}, False),
        ("kms", "DisableKey", {}, True),
        ("sts", "AssumeRole", {}, False),
        ("stepfunctions", "SendTaskSuccess", {}, False),
        ("stepfunctions", "StartExecution", {}, True),
        ("sagemaker-runtime", "InvokeEndpoint", {}, False),
        ("cloudtrail", "StopLogging", {}, True),
        ("cloudtrail", "DescribeTrails", {}, False),
    ],
)
def test_only_management_calls_that_write_are_delivered(
    service: str, operation: str, params: dict[str, Any], delivered: bool
) -> None:
    assert recorded(service, operation, params) is delivered


def test_an_s3_body_is_logged_under_its_element_a_lone_rule_as_an_object() -> None:
    parameters = request_parameters(
        "s3",
        "PutBucketEncryption",
        {
            "Bucket": "data",
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        },
        REGION,
    )
    assert parameters == {
        "bucketName": "data",
        "Host": "data.s3.amazonaws.com",
        "encryption": "",
        "ServerSideEncryptionConfiguration": {
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "Rule": {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"},
                "BucketKeyEnabled": True,
            },
        },
    }


def test_a_bucket_policy_is_logged_as_json_and_logging_turned_off_as_an_empty_status() -> None:
    policy = {"Version": "2012-10-17", "Statement": []}
    logged = request_parameters("s3", "PutBucketPolicy", {"Bucket": "data", "Policy": json.dumps(policy)}, "eu-west-1")
    assert logged == {
        "bucketName": "data",
        "Host": "data.s3.eu-west-1.amazonaws.com",
        "policy": "",
        "bucketPolicy": policy,
    }
    off = request_parameters("s3", "PutBucketLogging", {"Bucket": "data", "BucketLoggingStatus": {}}, REGION)
    assert off["BucketLoggingStatus"] == {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}


def test_other_services_parameters_are_in_lower_camel_case_and_secrets_hidden() -> None:
    assert request_parameters("kms", "ScheduleKeyDeletion", {"KeyId": "k", "PendingWindowInDays": 7}, REGION) == {
        "keyId": "k",
        "pendingWindowInDays": 7,
    }
    assert request_parameters("iam", "CreateLoginProfile", {"UserName": "u", "Password": "p"}, REGION) == {
        "userName": "u",
        "password": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    update = request_parameters(
        "sagemaker",
        "UpdateEndpointWeightsAndCapacities",
        {"EndpointName": "e", "DesiredWeightsAndCapacities": [{"VariantName": "challenger", "DesiredWeight": 0.0}]},
        REGION,
    )
    assert update == {
        "endpointName": "e",
        "desiredWeightsAndCapacities": [{"variantName": "challenger", "desiredWeight": 0.0}],
    }


def test_responses_are_null_for_s3_and_empty_replies_and_dates_are_written_as_cloudtrail_writes_them() -> None:
    assert response_elements("s3", "PutBucketVersioning", {"ResponseMetadata": {}}) is None
    assert response_elements("kms", "DisableKey", {"ResponseMetadata": {"RequestId": "r"}}) is None
    scheduled = {
        "KeyId": "arn",
        "DeletionDate": datetime(2021, 4, 12, 18, 58, 30, tzinfo=UTC),
        "KeyState": "PendingDeletion",
    }
    assert response_elements("kms", "ScheduleKeyDeletion", scheduled) == {
        "keyId": "arn",
        "deletionDate": "Apr 12, 2021, 6:58:30 PM",
        "keyState": "PendingDeletion",
    }


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def test_a_failed_call_carries_its_error_before_its_parameters(iam: Any) -> None:
    iam.create_user(UserName="mallory")
    caller = Caller(
        Principal(kind="user", arn=f"arn:aws:iam::{ACCOUNT}:user/mallory", account_id=ACCOUNT), "AKIAEXAMPLE"
    )
    event = api_call_event(
        service="cloudtrail",
        operation="StopLogging",
        params={"Name": "conveyor-dev"},
        caller=caller,
        account_id=ACCOUNT,
        region=REGION,
        now=NOW,
        error={"Error": {"Code": "AccessDeniedException", "Message": "no"}, "ResponseMetadata": {"RequestId": "r-1"}},
    )
    detail = event["detail"]
    assert list(detail)[list(detail).index("userAgent") + 1 : list(detail).index("requestParameters")] == [
        "errorCode",
        "errorMessage",
    ]
    assert (detail["errorCode"], detail["requestID"], detail["responseElements"]) == (
        "AccessDeniedException",
        "r-1",
        None,
    )
    assert (event["time"], detail["eventTime"]) == ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z")
    assert detail["userIdentity"]["type"] == "IAMUser"


def test_a_service_and_the_administrator_are_identified_as_cloudtrail_identifies_them(iam: Any) -> None:
    service = Caller(
        Principal(kind="service", arn="events.amazonaws.com", account_id=ACCOUNT), "SVC", "events.amazonaws.com"
    )
    root = Caller(
        Principal(kind="admin", arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT),
        "localcloud",
        "cloudformation.amazonaws.com",
    )
    common = {
        "service": "s3",
        "operation": "PutBucketVersioning",
        "params": {"Bucket": "b"},
        "account_id": ACCOUNT,
        "region": REGION,
        "now": NOW,
    }
    by_service = api_call_event(caller=service, **common)["detail"]
    assert by_service["userIdentity"] == {"type": "AWSService", "invokedBy": "events.amazonaws.com"}
    assert "tlsDetails" not in by_service
    by_root = api_call_event(caller=root, **common)["detail"]["userIdentity"]
    assert (by_root["type"], by_root["arn"], by_root["invokedBy"]) == (
        "Root",
        f"arn:aws:iam::{ACCOUNT}:root",
        "cloudformation.amazonaws.com",
    )


@pytest.mark.parametrize(
    ("selectors", "advanced", "global_service", "logs"),
    [
        ([], [], False, True),
        ([{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}], [], False, False),
        ([{"ReadWriteType": "WriteOnly"}], [], False, True),
        ([], [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}], False, False),
        ([], [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}], False, True),
        ([], [], True, False),
    ],
)
def test_a_trail_logs_management_writes_as_its_selectors_say(
    selectors: list[dict[str, Any]], advanced: list[dict[str, Any]], global_service: bool, logs: bool
) -> None:
    trail = SimpleNamespace(
        event_selectors=selectors, advanced_event_selectors=advanced, include_global_service_events=not global_service
    )
    assert logs_management_writes(trail, global_service=global_service) is logs
