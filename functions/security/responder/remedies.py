"""Remedies: the changes the responder undoes itself, each safe to repeat and none deleting anything.

Each remedy puts a setting back as template.yaml has it. Each has the AWS CLI call that does the
same, for the alert to give when the remedy itself fails.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from bucket_policies import artifact_bucket_policy, data_bucket_policy, log_bucket_policy
from stack_facts import LOG_PREFIXES, ResponderSettings

from conveyor import aws

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class Remedy(StrEnum):
    RESTORE_PUBLIC_ACCESS_BLOCK = "restored the public access block (all four settings on)"
    RESTORE_ENCRYPTION = "restored default encryption"
    RESUME_VERSIONING = "resumed versioning"
    RESTORE_BUCKET_POLICY = "restored the bucket policy of template.yaml"
    RESTORE_BUCKET_ACL = "reset the bucket ACL to private and ACLs to disabled (bucket owner enforced)"
    RESTORE_ACCESS_LOGGING = "restored server access logging into the log bucket"
    START_LOGGING = "started the trail logging again"
    CANCEL_KEY_DELETION = "cancelled the key's scheduled deletion"
    ENABLE_KEY = "enabled the key"


# Remedies of the stack key, which the state table and the topic need before anything else.
KEY_REMEDIES = frozenset({Remedy.CANCEL_KEY_DELETION, Remedy.ENABLE_KEY})


def bucket_policy(settings: ResponderSettings, bucket: str) -> dict[str, Any]:
    """The template's policy of one of the stack's buckets."""
    role = settings.buckets[bucket]
    if role == "data":
        return data_bucket_policy(bucket, partition=settings.partition)
    if role == "artifact":
        return artifact_bucket_policy(bucket, partition=settings.partition)
    return log_bucket_policy(
        bucket, account_id=settings.account_id, partition=settings.partition, trail_arn=settings.own_trail_arn
    )


def encryption(settings: ResponderSettings, bucket: str) -> dict[str, object]:
    """The template's default encryption of the bucket (SSE-S3 for the log bucket: access logging needs it)."""
    if settings.buckets[bucket] == "log":
        return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": settings.key_arn},
                "BucketKeyEnabled": True,
            }
        ]
    }


def access_logging(settings: ResponderSettings, bucket: str) -> dict[str, object]:
    role = settings.buckets[bucket]
    return {"LoggingEnabled": {"TargetBucket": settings.log_bucket_name, "TargetPrefix": LOG_PREFIXES[role]}}


def _restore_bucket_acl(settings: ResponderSettings, bucket: str) -> None:
    s3 = aws.client("s3")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )


_APPLY: dict[Remedy, Callable[[ResponderSettings, str], None]] = {
    Remedy.RESTORE_PUBLIC_ACCESS_BLOCK: lambda settings, bucket: aws.client("s3").put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=ALL_BLOCKED
    ),
    Remedy.RESTORE_ENCRYPTION: lambda settings, bucket: aws.client("s3").put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=encryption(settings, bucket)
    ),
    Remedy.RESUME_VERSIONING: lambda settings, bucket: aws.client("s3").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    ),
    Remedy.RESTORE_BUCKET_POLICY: lambda settings, bucket: aws.client("s3").put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(bucket_policy(settings, bucket))
    ),
    Remedy.RESTORE_BUCKET_ACL: _restore_bucket_acl,
    Remedy.RESTORE_ACCESS_LOGGING: lambda settings, bucket: aws.client("s3").put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus=access_logging(settings, bucket)
    ),
    Remedy.START_LOGGING: lambda settings, _: aws.client("cloudtrail").start_logging(Name=settings.trail_arn),
    # By key id: the responder runs in the key's account and Region (moto 5.2.5 resolves no key ARN here).
    Remedy.CANCEL_KEY_DELETION: lambda settings, _: aws.client("kms").cancel_key_deletion(KeyId=settings.key_id),
    Remedy.ENABLE_KEY: lambda settings, _: aws.client("kms").enable_key(KeyId=settings.key_id),
}


def apply(remedy: Remedy, settings: ResponderSettings, resource_name: str) -> None:
    """Put the setting back on ``resource_name`` (a bucket name; ignored for the trail and the key)."""
    _APPLY[remedy](settings, resource_name)


def _json(value: object) -> str:
    return shlex.quote(json.dumps(value, separators=(",", ":")))


_COMMAND: dict[Remedy, Callable[[ResponderSettings, str], str]] = {
    Remedy.RESTORE_PUBLIC_ACCESS_BLOCK: lambda settings, bucket: (
        f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration {_json(ALL_BLOCKED)}"
    ),
    Remedy.RESTORE_ENCRYPTION: lambda settings, bucket: (
        f"aws s3api put-bucket-encryption --bucket {bucket} "
        f"--server-side-encryption-configuration {_json(encryption(settings, bucket))}"
    ),
    Remedy.RESUME_VERSIONING: lambda settings, bucket: (
        f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"
    ),
    Remedy.RESTORE_BUCKET_POLICY: lambda settings, bucket: (
        f"aws s3api put-bucket-policy --bucket {bucket} --policy {_json(bucket_policy(settings, bucket))}"
    ),
    Remedy.RESTORE_BUCKET_ACL: lambda settings, bucket: (
        f"aws s3api put-bucket-acl --bucket {bucket} --acl private && aws s3api put-bucket-ownership-controls "
        f"--bucket {bucket} --ownership-controls 'Rules=[{{ObjectOwnership=BucketOwnerEnforced}}]'"
    ),
    Remedy.RESTORE_ACCESS_LOGGING: lambda settings, bucket: (
        f"aws s3api put-bucket-logging --bucket {bucket} "
        f"--bucket-logging-status {_json(access_logging(settings, bucket))}"
    ),
    Remedy.START_LOGGING: lambda settings, _: f"aws cloudtrail start-logging --name {settings.trail_arn}",
    Remedy.CANCEL_KEY_DELETION: lambda settings, _: f"aws kms cancel-key-deletion --key-id {settings.key_arn}",
    Remedy.ENABLE_KEY: lambda settings, _: f"aws kms enable-key --key-id {settings.key_arn}",
}


def command(remedy: Remedy, settings: ResponderSettings, resource_name: str) -> str:
    """The AWS CLI call that applies ``remedy`` by hand (``resource_name`` as for :func:`apply`)."""
    calls = _COMMAND[remedy](settings, shlex.quote(resource_name)).split(" && ")
    return " && ".join(f"{call} --region {settings.region}" for call in calls)
