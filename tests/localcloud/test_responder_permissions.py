"""A least-privilege role can make each call the security responder makes, and only those it is allowed.

Each call is modelled in localcloud/iam/actions.py with the IAM action and resource AWS authorizes
it with, so a missing permission in the responder's role fails here as it would after deploy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.trail_stack import trail_cloud

pytestmark = pytest.mark.localcloud

BLOCKED = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with trail_cloud() as deployed:
        yield deployed


def responder_role(cloud: LocalCloud, *, leave_out: str = "") -> str:
    """A role with exactly what the responder needs on this stack's resources (but ``leave_out``)."""
    bucket = f"arn:aws:s3:::{cloud.outputs['GuardedBucketName']}"
    key, trail = cloud.outputs["TrailKeyArn"], cloud.outputs["TrailArn"]
    product = f"arn:aws:securityhub:{cloud.region}:{cloud.account_id}:product/{cloud.account_id}/default"
    grants = {
        "s3:PutBucketPublicAccessBlock": bucket,
        "s3:GetBucketPublicAccessBlock": bucket,
        "s3:PutEncryptionConfiguration": bucket,
        "s3:GetEncryptionConfiguration": bucket,
        "s3:PutBucketVersioning": bucket,
        "s3:PutBucketPolicy": bucket,
        "s3:GetBucketPolicy": bucket,
        "s3:PutBucketLogging": bucket,
        "s3:GetBucketLogging": bucket,
        "kms:CancelKeyDeletion": key,
        "kms:EnableKey": key,
        "kms:DescribeKey": key,
        "cloudtrail:StartLogging": trail,
        "cloudtrail:GetTrailStatus": trail,
        "securityhub:BatchImportFindings": product,
    }
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in grants.items() if a != leave_out]
    iam = cloud.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn: str = iam.create_role(
        RoleName="SecurityResponder", Path="/conveyor/dev/", AssumeRolePolicyDocument=json.dumps({"Statement": [trust]})
    )["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName="SecurityResponder", PolicyName="remediate", PolicyDocument=json.dumps(document))
    return arn


def remediations(cloud: LocalCloud, role: str) -> dict[str, Callable[[], Any]]:
    """Each call the responder makes, by the IAM action that authorizes it."""
    bucket, key, trail = cloud.outputs["GuardedBucketName"], cloud.outputs["TrailKeyArn"], cloud.outputs["TrailArn"]
    s3 = cloud.client("s3", principal=role, assumed_by="lambda.amazonaws.com")
    kms = cloud.client("kms", principal=role, assumed_by="lambda.amazonaws.com")
    cloudtrail = cloud.client("cloudtrail", principal=role, assumed_by="lambda.amazonaws.com")
    hub = cloud.client("securityhub", principal=role, assumed_by="lambda.amazonaws.com")
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]}
    tls_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": "conveyor/finding-1",
        "ProductArn": f"arn:aws:securityhub:{cloud.region}:{cloud.account_id}:product/{cloud.account_id}/default",
        "GeneratorId": "conveyor-security-responder",
        "AwsAccountId": cloud.account_id,
        "Types": ["Effects/Data Exposure"],
        "CreatedAt": "2026-01-01T00:00:00Z",
        "UpdatedAt": "2026-01-01T00:00:00Z",
        "Severity": {"Label": "HIGH"},
        "Title": "Public access block removed",
        "Description": "Restored",
        "Resources": [{"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::{bucket}"}],
    }
    return {
        "s3:PutBucketPublicAccessBlock": lambda: s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=BLOCKED
        ),
        "s3:GetBucketPublicAccessBlock": lambda: s3.get_public_access_block(Bucket=bucket),
        "s3:PutEncryptionConfiguration": lambda: s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration=encryption
        ),
        "s3:GetEncryptionConfiguration": lambda: s3.get_bucket_encryption(Bucket=bucket),
        "s3:PutBucketVersioning": lambda: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        ),
        "s3:PutBucketPolicy": lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only)),
        "s3:GetBucketPolicy": lambda: s3.get_bucket_policy(Bucket=bucket),
        "s3:PutBucketLogging": lambda: s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={}),
        "s3:GetBucketLogging": lambda: s3.get_bucket_logging(Bucket=bucket),
        "kms:CancelKeyDeletion": lambda: kms.cancel_key_deletion(KeyId=key),
        "kms:EnableKey": lambda: kms.enable_key(KeyId=key),
        "kms:DescribeKey": lambda: kms.describe_key(KeyId=key),
        "cloudtrail:StartLogging": lambda: cloudtrail.start_logging(Name=trail),
        "cloudtrail:GetTrailStatus": lambda: cloudtrail.get_trail_status(Name=trail),
        "securityhub:BatchImportFindings": lambda: hub.batch_import_findings(Findings=[finding]),
    }


def test_the_least_privilege_role_makes_every_remediation(cloud: LocalCloud) -> None:
    # Given an intruder stopped the trail and scheduled the key's deletion
    cloud.client("cloudtrail").stop_logging(Name=cloud.outputs["TrailArn"])
    cloud.client("kms").schedule_key_deletion(KeyId=cloud.outputs["TrailKeyArn"], PendingWindowInDays=7)
    role = responder_role(cloud)
    # When the responder's role undoes it all, in the responder's order
    for call in remediations(cloud, role).values():
        call()
    # Then the settings read back restored
    assert cloud.client("cloudtrail").get_trail_status(Name=cloud.outputs["TrailName"])["IsLogging"]
    key = cloud.client("kms").describe_key(KeyId=cloud.outputs["TrailKeyArn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled"


@pytest.mark.parametrize(
    "missing",
    [
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutBucketPolicy",
        "s3:PutBucketLogging",
        "kms:EnableKey",
        "cloudtrail:StartLogging",
        "securityhub:BatchImportFindings",
    ],
)
def test_a_remediation_the_role_is_not_allowed_is_refused(cloud: LocalCloud, missing: str) -> None:
    role = responder_role(cloud, leave_out=missing)
    with pytest.raises(ClientError) as refused:
        remediations(cloud, role)[missing]()
    assert refused.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}
    assert f"is not authorized to perform: {missing}" in refused.value.response["Error"]["Message"]
