"""Each API call becomes the IAM actions, resources and context keys AWS authorizes it with."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from localcloud.iam.actions import Actions, UnmodelledOperationError
from localcloud.iam.policy import Check

REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.fixture
def actions() -> Iterator[Actions]:
    with mock_aws():
        yield Actions(ACCOUNT, REGION)


def simple(checks: list[Check]) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in checks]


def test_s3_reads_writes_copies_and_lists_name_their_objects_and_prefixes(actions: Actions) -> None:
    assert simple(actions.checks("s3", "HeadObject", {"Bucket": "b", "Key": "k"})) == [
        ("s3:GetObject", "arn:aws:s3:::b/k")
    ]
    assert simple(actions.checks("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v"})) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::b/k")
    ]
    copy = actions.checks(
        "s3", "CopyObject", {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "a", "Key": "from"}}
    )
    assert simple(copy) == [("s3:PutObject", "arn:aws:s3:::b/to"), ("s3:GetObject", "arn:aws:s3:::a/from")]
    [listing] = actions.checks("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "datasets/"})
    assert (listing.action, listing.resource, dict(listing.context)) == (
        "s3:ListBucket",
        "arn:aws:s3:::b",
        {"s3:prefix": "datasets/"},
    )


def test_writing_to_an_sse_kms_bucket_needs_the_key_through_s3(actions: Actions) -> None:
    kms, s3 = boto3.client("kms", region_name=REGION), boto3.client("s3", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]
    s3.create_bucket(Bucket="data")
    s3.put_bucket_encryption(
        Bucket="data",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]
        },
    )
    put, use = actions.checks("s3", "PutObject", {"Bucket": "data", "Key": "k"})
    assert (put.action, use.action, use.resource) == ("s3:PutObject", "kms:GenerateDataKey", key["Arn"])
    assert use.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"


def test_a_dynamodb_transaction_needs_each_item_action_with_its_partition_keys(actions: Actions) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "family", "KeyType": "HASH"}, {"AttributeName": "name", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "family", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    checks = actions.checks(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "state", "Item": {"family": {"S": "dataset"}, "name": {"S": "part#1"}}}},
                {"ConditionCheck": {"TableName": "state", "Key": {"family": {"S": "object"}, "name": {"S": "o"}}}},
            ]
        },
    )
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/state"
    assert [(c.action, c.resource, c.context["dynamodb:LeadingKeys"]) for c in checks] == [
        ("dynamodb:PutItem", table, ["dataset"]),
        ("dynamodb:ConditionCheckItem", table, ["object"]),
    ]
    [query] = actions.checks(
        "dynamodb",
        "Query",
        {
            "TableName": "state",
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": "family"},
            "ExpressionAttributeValues": {":p": {"S": "run"}},
        },
    )
    assert query.context["dynamodb:LeadingKeys"] == ["run"]


def test_a_dynamodb_batch_is_an_action_of_its_own_on_each_table(actions: Actions) -> None:
    checks = actions.checks(
        "dynamodb",
        "BatchGetItem",
        {"RequestItems": {"state": {"Keys": [{"pk": {"S": "dataset"}}]}, "other": {"Keys": []}}},
    )
    assert [(c.action, c.resource) for c in checks] == [
        ("dynamodb:BatchGetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/state"),
        ("dynamodb:BatchGetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"),
    ]
    [write] = actions.checks("dynamodb", "BatchWriteItem", {"RequestItems": {"state": [{"PutRequest": {}}]}})
    assert write.action == "dynamodb:BatchWriteItem"


def test_passing_a_role_is_a_permission_of_its_own(actions: Actions) -> None:
    checks = actions.checks(
        "sagemaker",
        "CreateTrainingJob",
        {"TrainingJobName": "Conveyor-Run-1", "RoleArn": "arn:aws:iam::1:role/training"},
    )
    assert simple(checks) == [
        ("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/conveyor-run-1"),
        ("iam:PassRole", "arn:aws:iam::1:role/training"),
    ]
    assert checks[1].context == {"iam:PassedToService": "sagemaker.amazonaws.com"}


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "lambda",
            "Invoke",
            {"FunctionName": "ingest"},
            ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ingest"),
        ),
        ("stepfunctions", "StartExecution", {"stateMachineArn": "arn:sm"}, ("states:StartExecution", "arn:sm")),
        (
            "events",
            "PutEvents",
            {"Entries": [{"Source": "conveyor"}]},
            ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
        ),
        ("sns", "Publish", {"TopicArn": "arn:topic"}, ("sns:Publish", "arn:topic")),
        ("cloudwatch", "PutMetricData", {"Namespace": "Conveyor"}, ("cloudwatch:PutMetricData", "*")),
        (
            "firehose",
            "PutRecordBatch",
            {"DeliveryStreamName": "s"},
            ("firehose:PutRecordBatch", f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/s"),
        ),
    ],
)
def test_operations_map_to_their_iam_action_and_resource(
    actions: Actions, service: str, operation: str, params: dict[str, object], expected: tuple[str, str]
) -> None:
    assert simple(actions.checks(service, operation, params))[0] == expected


def test_an_operation_with_no_resource_model_is_named_not_guessed(actions: Actions) -> None:
    with pytest.raises(UnmodelledOperationError, match="glue:GetDatabases"):
        actions.checks("glue", "GetDatabases", {})


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "cloudtrail",
            "StopLogging",
            {"Name": "conveyor-dev"},
            [("cloudtrail:StopLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/conveyor-dev")],
        ),
        (
            "cloudtrail",
            "StartLogging",
            {"Name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/conveyor-dev"},
            [("cloudtrail:StartLogging", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/conveyor-dev")],
        ),
        ("cloudtrail", "DescribeTrails", {}, [("cloudtrail:DescribeTrails", "*")]),
        (
            "s3",
            "PutPublicAccessBlock",
            {"Bucket": "data"},
            [("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::data")],
        ),
        ("s3", "DeletePublicAccessBlock", {"Bucket": "data"}, [("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::data")]),
        ("s3", "PutBucketEncryption", {"Bucket": "data"}, [("s3:PutEncryptionConfiguration", "arn:aws:s3:::data")]),
        ("s3", "GetBucketEncryption", {"Bucket": "data"}, [("s3:GetEncryptionConfiguration", "arn:aws:s3:::data")]),
        ("s3", "PutBucketVersioning", {"Bucket": "data"}, [("s3:PutBucketVersioning", "arn:aws:s3:::data")]),
        ("s3", "PutBucketPolicy", {"Bucket": "data"}, [("s3:PutBucketPolicy", "arn:aws:s3:::data")]),
        ("s3", "GetBucketLogging", {"Bucket": "data"}, [("s3:GetBucketLogging", "arn:aws:s3:::data")]),
        ("s3", "PutBucketAcl", {"Bucket": "data"}, [("s3:PutBucketAcl", "arn:aws:s3:::data")]),
        (
            "securityhub",
            "BatchImportFindings",
            {"Findings": [{"Id": "f"}]},
            [
                (
                    "securityhub:BatchImportFindings",
                    f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default",
                )
            ],
        ),
        (
            "securityhub",
            "GetFindings",
            {},
            [("securityhub:GetFindings", f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default")],
        ),
        (
            "sagemaker",
            "UpdateEndpoint",
            {"EndpointName": "Serving", "EndpointConfigName": "Serving-2"},
            [
                ("sagemaker:UpdateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/serving"),
                ("sagemaker:UpdateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/serving-2"),
            ],
        ),
        (
            "sagemaker",
            "UpdateEndpointWeightsAndCapacities",
            {"EndpointName": "serving", "DesiredWeightsAndCapacities": []},
            [
                (
                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/serving",
                )
            ],
        ),
        (
            "greengrassv2",
            "CreateDeployment",
            {"targetArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/fleet"},
            [
                ("greengrass:CreateDeployment", "*"),
                ("iot:CreateJob", f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/fleet"),
                ("iot:DescribeThingGroup", f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/fleet"),
            ],
        ),
        (
            "kms",
            "CancelKeyDeletion",
            {"KeyId": "k"},
            [("kms:CancelKeyDeletion", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k")],
        ),
    ],
)
def test_the_responders_operations_map_to_their_iam_actions_and_resources(
    actions: Actions, service: str, operation: str, params: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert simple(actions.checks(service, operation, params)) == expected


def test_a_roles_resource_is_its_arn_with_its_path(actions: Actions) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="Ingest", Path="/conveyor/dev/", AssumeRolePolicyDocument="{}")
    [check] = actions.checks(
        "iam", "AttachRolePolicy", {"RoleName": "Ingest", "PolicyArn": "arn:aws:iam::aws:policy/x"}
    )
    assert (check.action, check.resource) == (
        "iam:AttachRolePolicy",
        f"arn:aws:iam::{ACCOUNT}:role/conveyor/dev/Ingest",
    )
    [unknown] = actions.checks("iam", "PutRolePolicy", {"RoleName": "Nobody"})
    assert unknown.resource == f"arn:aws:iam::{ACCOUNT}:role/Nobody"


def test_writing_an_object_with_a_canned_acl_sets_s3_x_amz_acl(actions: Actions) -> None:
    [put] = actions.checks("s3", "PutObject", {"Bucket": "b", "Key": "k", "ACL": "bucket-owner-full-control"})
    assert put.context == {"s3:x-amz-acl": "bucket-owner-full-control"}


def test_scalable_targets_are_authorized_by_arn_namespace_and_dimension(actions: Actions) -> None:
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/serving/variant/p1",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    # Before registration the target has no ARN yet; the first registration may create the
    # service-linked role, as the caller
    register, linked = actions.checks("application-autoscaling", "RegisterScalableTarget", target)
    assert (register.action, register.resource) == (
        "application-autoscaling:RegisterScalableTarget",
        f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/*",
    )
    assert dict(register.context) == {
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }
    assert (linked.action, dict(linked.context)) == (
        "iam:CreateServiceLinkedRole",
        {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"},
    )
    assert linked.resource.endswith("/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
    # Once registered, its own ARN
    arn = boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        **target, MinCapacity=1, MaxCapacity=2
    )["ScalableTargetARN"]
    [deregister] = actions.checks("application-autoscaling", "DeregisterScalableTarget", target)
    assert deregister.resource == arn
    [describe] = actions.checks("application-autoscaling", "DescribeScalableTargets", {"ServiceNamespace": "sagemaker"})
    assert (describe.action, describe.resource) == ("application-autoscaling:DescribeScalableTargets", "*")
