"""The stack the security responder guards, built in moto from template.yaml, and events aimed at it.

Buckets, their policies, the key and the state table take template.yaml's own properties (with
the intrinsics resolved here), so what the responder restores is compared with what the
template deploys. The trail is created as issue 10 describes it (into the log bucket, prefix
``trail``); the topic has a queue subscribed, to read the alerts a human would get.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
from moto import mock_aws
from moto.s3.models import FakeBucket
from stack_facts import ResponderSettings

from conveyor import aws
from localcloud.template import load_sam_template
from tests.conftest import FIXTURES, TEMPLATE

ACCOUNT = "123456789012"
REGION = "us-east-1"
DATA_BUCKET = "conveyor-dev-data"
ARTIFACT_BUCKET = "conveyor-dev-artifacts"
LOG_BUCKET = "conveyor-dev-logs"
TRAIL_NAME = "conveyor-dev"  # the trail template.yaml creates: <ProjectName>-<Stage>
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}"
ROLE_PATH = "/conveyor/dev/"
STACK_ROLES = ("conveyor-dev-IngestFunctionRole-1A2B3C4D5E6F", "conveyor-dev-ResponderFunctionRole-1A2B3C")
ENDPOINT = "conveyor-dev-endpoint"
THING_GROUP_ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/conveyor-dev-fleet"
TABLE = "conveyor-dev-state"
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"
RESPONDER_EVENTS = FIXTURES / "cloudtrail" / "responder"
BAD_EVENTS = FIXTURES / "bad_inputs" / "cloudtrail"
BUCKETS = {"DataBucket": DATA_BUCKET, "ArtifactBucket": ARTIFACT_BUCKET, "LogBucket": LOG_BUCKET}


def resolve(node: Any, values: dict[str, str]) -> Any:
    """``node`` with Ref, Fn::GetAtt and Fn::Sub resolved from ``values`` (``LogBucket.Arn``, ``AWS::AccountId``)."""
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return values[node["Ref"]]
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        return values[target if isinstance(target, str) else ".".join(target)]
    if "Fn::Sub" in node:
        text = node["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], text)
    return {name: resolve(value, values) for name, value in node.items()}


def template_values(key_arn: str) -> dict[str, str]:
    values = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "Key.Arn": key_arn}
    values |= {"ProjectName": "conveyor", "Stage": "dev", "Key": key_arn.rsplit("/", 1)[-1]}
    for logical_id, name in BUCKETS.items():
        values |= {logical_id: name, f"{logical_id}.Arn": f"arn:aws:s3:::{name}"}
    values |= {"Trail": TRAIL_NAME, "Trail.Arn": TRAIL_ARN}
    return values


@dataclass
class Stack:
    settings: ResponderSettings
    alerts_queue_url: str

    def alerts(self) -> list[dict[str, str]]:
        """Every alert published so far (Subject and Message), oldest first."""
        sqs = boto3.client("sqs")
        found: list[dict[str, str]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.alerts_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                body = json.loads(message["Body"])
                found.append({"Subject": body.get("Subject", ""), "Message": body["Message"]})
                sqs.delete_message(QueueUrl=self.alerts_queue_url, ReceiptHandle=message["ReceiptHandle"])


def _create_buckets(resources: dict[str, Any], values: dict[str, str]) -> None:
    s3 = boto3.client("s3")
    for logical_id in ("LogBucket", "DataBucket", "ArtifactBucket"):
        name = BUCKETS[logical_id]
        used = ("BucketEncryption", "VersioningConfiguration", "PublicAccessBlockConfiguration", "OwnershipControls")
        properties = {
            name: resolve(value, values)
            for name, value in resources[logical_id]["Properties"].items()
            if name in (*used, "LoggingConfiguration")
        }
        s3.create_bucket(Bucket=name)
        # CloudFormation's BucketEncryption, in the API's shape.
        rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            | ({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})
            for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=properties["VersioningConfiguration"])
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
        if "LoggingConfiguration" in properties:
            logging = properties["LoggingConfiguration"]
            status = {"TargetBucket": logging["DestinationBucketName"], "TargetPrefix": logging["LogFilePrefix"]}
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": status})

    for logical_id, name in BUCKETS.items():
        policy = resolve(resources[f"{logical_id}Policy"]["Properties"]["PolicyDocument"], values)
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def template_policy(logical_id: str, key_arn: str) -> dict[str, Any]:
    """The resolved policy document of ``<logical_id>Policy`` in template.yaml."""
    resources = load_sam_template(TEMPLATE)["Resources"]
    document: dict[str, Any] = resolve(
        resources[f"{logical_id}Policy"]["Properties"]["PolicyDocument"], template_values(key_arn)
    )
    return document


def settings_for(key_arn: str, topic_arn: str, **changes: Any) -> ResponderSettings:
    values: dict[str, Any] = {
        "project_name": "conveyor",
        "stage": "dev",
        "conveyor_version": "0.1.0",
        "state_table_name": TABLE,
        "data_bucket_name": DATA_BUCKET,
        "artifact_bucket_name": ARTIFACT_BUCKET,
        "log_bucket_name": LOG_BUCKET,
        "notification_topic_arn": topic_arn,
        "key_arn": key_arn,
        "trail_arn": TRAIL_ARN,
        "stack_role_path": ROLE_PATH,
        "stack_role_names": ",".join(STACK_ROLES),
        "endpoint_name": ENDPOINT,
        "thing_group_arn": THING_GROUP_ARN,
        "unfreeze_function_name": "conveyor-dev-UnfreezeFunction-1A2B3C",
    }
    return ResponderSettings.model_validate(values | changes)


@contextmanager
def deployed_stack(**changes: Any) -> Iterator[Stack]:
    """The stack in moto; ``changes`` override the responder's settings (e.g. ``security_hub="enabled"``)."""
    # moto 5.2.5 checks that S3 may deliver access logs by reading every statement of the target's
    # policy, and fails on one whose Principal is "*" (the template's DenyInsecureTransport); the
    # log bucket's policy does allow the delivery, so the check is taken as passed.
    log_delivery_allowed = patch.object(
        FakeBucket, "_log_permissions_enabled_policy", staticmethod(lambda *_, **__: True)
    )
    with mock_aws(), log_delivery_allowed:
        aws.client.cache_clear()
        resources = load_sam_template(TEMPLATE)["Resources"]
        kms = boto3.client("kms")
        key_arn: str = kms.create_key(Description="conveyor-dev")["KeyMetadata"]["Arn"]
        values = template_values(key_arn)
        kms.put_key_policy(
            KeyId=key_arn,
            PolicyName="default",
            Policy=json.dumps(resolve(resources["Key"]["Properties"]["KeyPolicy"], values)),
        )
        kms.create_alias(AliasName="alias/conveyor-dev", TargetKeyId=key_arn)
        table = resources["StateTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
        )
        _create_buckets(resources, values)
        cloudtrail = boto3.client("cloudtrail")
        cloudtrail.create_trail(
            Name=TRAIL_NAME,
            S3BucketName=LOG_BUCKET,
            S3KeyPrefix="trail",
            IsMultiRegionTrail=True,
            EnableLogFileValidation=True,
            KmsKeyId=key_arn,
        )
        cloudtrail.start_logging(Name=TRAIL_ARN)
        topic_arn: str = boto3.client("sns").create_topic(Name="conveyor-dev-notifications")["TopicArn"]
        sqs = boto3.client("sqs")
        queue_url: str = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield Stack(settings=settings_for(key_arn, topic_arn, **changes), alerts_queue_url=queue_url)
    aws.client.cache_clear()


def load(name: str, folder: Path = RESPONDER_EVENTS) -> Any:
    """An event fixture, as published (see its folder's README)."""
    return json.loads((folder / name).read_text(encoding="utf-8"))


def aimed(event: dict[str, Any], *, event_id: str | None = None, **parameters: Any) -> dict[str, Any]:
    """``event`` as if it had happened in the stack's account and Region, with ``parameters`` set."""
    aimed_event = copy.deepcopy(event)
    detail = aimed_event["detail"]
    aimed_event |= {"account": ACCOUNT, "region": REGION}
    detail |= {"recipientAccountId": ACCOUNT, "awsRegion": REGION}
    if event_id:
        detail["eventID"] = event_id
    if "requestParameters" in detail:
        detail["requestParameters"] = (detail["requestParameters"] or {}) | parameters
    return aimed_event


def intruder_call(
    event_name: str,
    event_source: str,
    parameters: dict[str, Any],
    *,
    event_id: str = "5f1e2d3c-4b5a-4697-8877-665544332211",
    **detail: Any,
) -> dict[str, Any]:
    """An API call by the intruder (an IAM user of the account), shaped like the recorded ones."""
    event = load("request_parameters_null.json", BAD_EVENTS)
    event["source"] = "aws." + event_source.split(".", maxsplit=1)[0]
    event["detail"] |= {
        "eventName": event_name,
        "eventSource": event_source,
        "requestParameters": parameters,
        "eventID": event_id,
    } | detail
    return dict(event)
