"""Resource types moto's CloudFormation does not model are provisioned, and unknown ones refused.

Moto reports CREATE_COMPLETE for a type it has no model of and creates nothing. The local cloud
provisions each type that ``localcloud/resources/`` models through the service's API, and refuses
a template holding any other unmodelled type before it deploys anything.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel

from localcloud import LocalCloud
from localcloud.cloud import REGION, LocalCloudError
from localcloud.resources import PROVISIONERS
from localcloud.template import LocalTemplate

pytestmark = pytest.mark.localcloud

STACK = "unmodelled"


def _policy(sid: str, principal: str, action: str, resource: Any) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": {"Service": principal}, "Action": action}
    return {"Version": "2012-10-17", "Statement": [{**statement, "Resource": resource}]}


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        # What moto models itself: the provisioned resources refer to these.
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "unmodelled-bucket"}},
        "TrailBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "unmodelled-trail-bucket"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "unmodelled-topic"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "unmodelled-queue"}},
        "LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "unmodelled-logs"}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "unmodelled-role",
                "AssumeRolePolicyDocument": _policy("Assume", "lambda.amazonaws.com", "sts:AssumeRole", "*"),
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "unmodelled-function",
                "Runtime": "python3.13",
                "Handler": "index.handler",
                "Role": _arn("Role"),
                "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            },
        },
        # One resource of each type that localcloud/resources/ provisions.
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": _policy(
                    "Unmodelled", "logging.s3.amazonaws.com", "s3:PutObject", "arn:aws:s3:::unmodelled-bucket/*"
                ),
            },
        },
        "TopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": "Topic"}],
                "PolicyDocument": _policy("Unmodelled", "events.amazonaws.com", "sns:Publish", {"Ref": "Topic"}),
            },
        },
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "sqs", "Endpoint": _arn("Queue")},
        },
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": _policy("Unmodelled", "sns.amazonaws.com", "sqs:SendMessage", _arn("Queue")),
            },
        },
        "EventInvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": "Function"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0},
        },
        "LogStream": {
            "Type": "AWS::Logs::LogStream",
            "Properties": {"LogGroupName": {"Ref": "LogGroup"}, "LogStreamName": "unmodelled-stream"},
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "unmodelled-alarm",
                "Namespace": "Conveyor",
                "MetricName": "Errors",
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        },
        "DeliveryStream": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "DeliveryStreamName": "unmodelled-delivery",
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {"BucketARN": _arn("Bucket"), "RoleARN": _arn("Role")},
            },
        },
        "ModelPackageGroup": {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "Properties": {"ModelPackageGroupName": "unmodelled-models"},
        },
        "TrailBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "TrailBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudtrail.amazonaws.com"},
                            "Action": "s3:GetBucketAcl",
                            "Resource": "arn:aws:s3:::unmodelled-trail-bucket",
                        },
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudtrail.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": "arn:aws:s3:::unmodelled-trail-bucket/AWSLogs/*",
                        },
                    ],
                },
            },
        },
        "Trail": {
            "Type": "AWS::CloudTrail::Trail",
            "DependsOn": "TrailBucketPolicy",
            "Properties": {"TrailName": "unmodelled-trail", "S3BucketName": {"Ref": "TrailBucket"}, "IsLogging": False},
        },
        "Schedule": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Name": "unmodelled-schedule",
                "ScheduleExpression": "rate(1 hour)",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {"Arn": _arn("Function"), "RoleArn": _arn("Role")},
            },
        },
    },
}


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _queue_url() -> str:
    url: str = client("sqs").get_queue_url(QueueName="unmodelled-queue")["QueueUrl"]
    return url


def _topic_arn() -> str:
    [topic] = client("sns").list_topics()["Topics"]
    arn: str = topic["TopicArn"]
    return arn


def _bucket_policy() -> bool:
    try:
        client("s3").get_bucket_policy(Bucket="unmodelled-bucket")
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucketPolicy":
            return False
        raise
    return True


def _topic_policy() -> bool:
    # A new topic has a default policy; only the template's names the statement "Unmodelled".
    attributes = client("sns").get_topic_attributes(TopicArn=_topic_arn())["Attributes"]
    return any(s.get("Sid") == "Unmodelled" for s in json.loads(attributes["Policy"])["Statement"])


def _subscription() -> bool:
    return bool(client("sns").list_subscriptions_by_topic(TopicArn=_topic_arn())["Subscriptions"])


def _queue_policy() -> bool:
    attributes = client("sqs").get_queue_attributes(QueueUrl=_queue_url(), AttributeNames=["Policy"])
    return "Policy" in attributes.get("Attributes", {})


def _event_invoke_config() -> bool:
    configs = client("lambda").list_function_event_invoke_configs(FunctionName="unmodelled-function")
    return bool(configs["FunctionEventInvokeConfigs"])


def _log_stream() -> bool:
    return bool(client("logs").describe_log_streams(logGroupName="unmodelled-logs")["logStreams"])


def _alarm() -> bool:
    return bool(client("cloudwatch").describe_alarms(AlarmNames=["unmodelled-alarm"])["MetricAlarms"])


def _delivery_stream() -> bool:
    return "unmodelled-delivery" in client("firehose").list_delivery_streams()["DeliveryStreamNames"]


def _model_package_group() -> bool:
    return bool(client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"])


def _schedule() -> bool:
    return bool(client("scheduler").list_schedules()["Schedules"])


def _trail() -> bool:
    return bool(client("cloudtrail").describe_trails()["trailList"])


EXISTS: dict[str, Callable[[], bool]] = {
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::Logs::LogStream": _log_stream,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::KinesisFirehose::DeliveryStream": _delivery_stream,
    "AWS::SageMaker::ModelPackageGroup": _model_package_group,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::CloudTrail::Trail": _trail,
}
"""For each provisioned type: does the template's resource of that type exist, asked of its service?"""


@contextmanager
def moto_as_shipped() -> Iterator[None]:
    """Moto with its own CloudFormation models only.

    The local cloud's provisioners subclass moto's ``CloudFormationModel``, so once imported
    they are in moto's model list for the whole process; this hides them again.
    """
    own = [m for m in CloudFormationModel.__subclasses__() if not m.__module__.startswith("localcloud.")]
    caches = (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map)
    for cache in caches:
        cache.cache_clear()
    try:
        with mock_aws(), mock.patch.object(parsing, "get_model_list", return_value=own):
            yield
    finally:
        for cache in caches:
            cache.cache_clear()


def stack_status() -> str:
    status: str = client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    return status


def test_the_template_holds_one_resource_of_each_provisioned_type() -> None:
    provisioned = {p.cloudformation_type() for p in PROVISIONERS}
    assert provisioned == set(EXISTS)
    assert provisioned <= {r["Type"] for r in TEMPLATE["Resources"].values()}


@pytest.mark.parametrize("resource_type", sorted(EXISTS))
def test_gap_moto_reports_create_complete_and_creates_nothing(resource_type: str) -> None:
    with moto_as_shipped():
        # Given moto's CloudFormation, which has no model of the type
        assert resource_type not in parsing.get_model_map()
        # When it creates a stack holding a resource of that type
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
        # Then the stack says it is complete, yet the service has no such resource;
        # a Python warning is all that tells
        assert stack_status() == "CREATE_COMPLETE"
        assert EXISTS[resource_type]() is False
        assert f"Tried to parse {resource_type} but it's not supported" in " ".join(str(w.message) for w in caught)


@pytest.mark.parametrize("resource_type", sorted(EXISTS))
def test_fix_the_local_cloud_provisions_the_resource(resource_type: str) -> None:
    with LocalCloud(LocalTemplate(body=TEMPLATE), stack_name=STACK):
        assert stack_status() == "CREATE_COMPLETE"
        assert EXISTS[resource_type]() is True


@pytest.mark.parametrize("unknown_type", ["AWS::Foo::Bar", "AWS::GameLift::Fleet"])
def test_a_template_with_an_unknown_type_is_refused_before_anything_is_deployed(unknown_type: str) -> None:
    # Given a template holding a bucket and a type that is neither modelled nor provisioned
    body = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "never-created"}},
            "Unknown": {"Type": unknown_type, "Properties": {}},
        }
    }
    # An outer mock keeps the emulation's state after the local cloud has closed.
    with mock_aws():
        # When the local cloud deploys it, Then it refuses, naming the type
        with pytest.raises(LocalCloudError, match=unknown_type), LocalCloud(LocalTemplate(body=body), stack_name=STACK):
            pass
        # And neither the stack nor the bucket was created
        assert client("cloudformation").describe_stacks()["Stacks"] == []
        assert "never-created" not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
