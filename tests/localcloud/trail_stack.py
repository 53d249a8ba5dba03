"""Helpers for the local CloudTrail tests: a stack whose trail logs, an intruder, a queue for its events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters import ALL, Adapter
from tests.conftest import FIXTURES
from tests.helpers import queue

TRAIL_TEMPLATE = FIXTURES / "templates" / "trail.yaml"
MALLORY = "arn:aws:iam::123456789012:user/mallory"
API_CALLS = {"detail-type": ["AWS API Call via CloudTrail"]}


@contextmanager
def trail_cloud(*, without: Sequence[Adapter] = ()) -> Iterator[LocalCloud]:
    """The trail fixture stack (its trail logging since the deploy), with every adapter but those in ``without``."""
    adapters = [a for a in ALL if a not in without]
    with LocalCloud.from_template(TRAIL_TEMPLATE, adapters=adapters) as cloud:
        yield cloud


def intruder(cloud: LocalCloud, *actions: str) -> str:
    """Create the IAM user mallory, allowed ``actions`` on every resource (or nothing); its ARN."""
    iam = cloud.client("iam")
    iam.create_user(UserName="mallory")
    if actions:
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
        document = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_user_policy(UserName="mallory", PolicyName="loot", PolicyDocument=json.dumps(document))
    return MALLORY


def catch_events(cloud: LocalCloud, pattern: dict[str, Any] | None = None) -> Callable[[], list[dict[str, Any]]]:
    """A rule on the default bus that sends CloudTrail's API call events (or those ``pattern`` matches) to a new queue.

    Returns a function that takes the events delivered so far off the queue, oldest first; the
    events of setting the rule up are taken off already.
    """
    url, arn = queue(cloud, "cloudtrail-events")
    events = cloud.client("events")
    events.put_rule(Name="cloudtrail-events", EventPattern=json.dumps(pattern or API_CALLS))
    events.put_targets(Rule="cloudtrail-events", Targets=[{"Id": "queue", "Arn": arn}])
    sqs = cloud.client("sqs")

    def drain() -> list[dict[str, Any]]:
        caught: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return caught
            for message in messages:
                caught.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    drain()
    return drain


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["eventName"] for e in events]


INTRUDER_ACTIONS = (
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketAcl",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "cloudtrail:StopLogging",
    "cloudtrail:StartLogging",
    "cloudtrail:UpdateTrail",
    "cloudtrail:GetTrailStatus",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "sagemaker:DeleteEndpoint",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "greengrass:CreateDeployment",
    "iot:CreateJob",  # Greengrass creates the deployment's job for the caller
    "iot:DescribeThingGroup",
)
"""What the intruder may do: everything it tries below but kms:PutKeyPolicy."""

PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}],
}
TRUST_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def intrude(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    """Mallory weakens the stack with one call of each kind; the events caught, by eventName (the last of each)."""
    drain = catch_events(cloud)
    mallory = intruder(cloud, *INTRUDER_ACTIONS)
    drain()  # creating mallory is the administrator's doing
    bucket, key = cloud.outputs["GuardedBucketName"], cloud.outputs["TrailKeyArn"]
    trail, role = cloud.outputs["TrailArn"], cloud.outputs["StackRoleArn"].rsplit("/", 1)[-1]
    s3, kms = cloud.client("s3", principal=mallory), cloud.client("kms", principal=mallory)
    cloudtrail, iam = cloud.client("cloudtrail", principal=mallory), cloud.client("iam", principal=mallory)
    open_block = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), False
    )
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=open_block)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(PUBLIC_READ))
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.delete_bucket_encryption(Bucket=bucket)
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key)  # which leaves the key disabled
    kms.disable_key(KeyId=key)
    kms.enable_key(KeyId=key)
    with contextlib.suppress(ClientError):  # not allowed: refused, and recorded
        kms.put_key_policy(
            KeyId=key, PolicyName="default", Policy=json.dumps(TRUST_ANYONE), BypassPolicyLockoutSafetyCheck=False
        )
    cloudtrail.update_trail(Name=trail, S3KeyPrefix="trail")
    cloudtrail.stop_logging(Name=trail)
    cloud.client("cloudtrail").start_logging(Name=trail)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_role_policy(RoleName=role, PolicyName="backdoor", PolicyDocument=json.dumps(PUBLIC_READ))
    iam.delete_role_policy(RoleName=role, PolicyName="backdoor")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(TRUST_ANYONE))
    sagemaker = cloud.client("sagemaker", principal=mallory)
    with contextlib.suppress(ClientError):  # there is no endpoint: the call fails, and is recorded
        sagemaker.delete_endpoint(EndpointName="serving")
    thing_group = f"arn:aws:iot:{cloud.region}:{cloud.account_id}:thinggroup/fleet"
    with contextlib.suppress(ClientError):
        cloud.client("greengrassv2", principal=mallory).create_deployment(targetArn=thing_group, components={})
    return {e["detail"]["eventName"]: e for e in drain() if e["detail"]["userIdentity"].get("userName") == "mallory"}
