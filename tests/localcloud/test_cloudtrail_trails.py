"""A trail is created only where CloudTrail could deliver: the bucket and key policies must let it, for that trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.cloudtrail_trails import cloudtrail_trails
from tests.localcloud.small_stack import small_cloud
from tests.localcloud.trail_stack import trail_cloud

pytestmark = pytest.mark.localcloud

ACCOUNT = "123456789012"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit"


def bucket_policy(bucket: str, *, prefix: str = "", source_arn: str = TRAIL) -> dict[str, Any]:
    """The bucket policy of the AWS CloudTrail User Guide ("Amazon S3 bucket policy for CloudTrail")."""
    folder = f"{prefix}/" if prefix else ""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{folder}AWSLogs/{ACCOUNT}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": source_arn}
                },
            },
        ],
    }


def key_policy(*, cloudtrail: bool) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
    ]
    if cloudtrail:
        statements.append(
            {
                "Sid": "Allow CloudTrail to encrypt logs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": TRAIL},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
                    },
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with small_cloud() as deployed:
        yield deployed


def logs_bucket(cloud: LocalCloud, policy: dict[str, Any] | None) -> str:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="audit-logs")
    if policy is not None:
        s3.put_bucket_policy(Bucket="audit-logs", Policy=json.dumps(policy))
    return "audit-logs"


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


def test_gap_moto_creates_a_trail_cloudtrail_could_never_deliver_for() -> None:
    with small_cloud(without=[cloudtrail_trails]) as cloud:
        bucket = logs_bucket(cloud, policy=None)
        cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket)
        cloud.client("cloudtrail").delete_trail(Name="never-created")  # succeeds


def test_fix_a_bucket_without_cloudtrails_policy_is_refused(cloud: LocalCloud) -> None:
    bucket = logs_bucket(cloud, policy=None)
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket)
    code, message = refusal(refused)
    assert code == "InsufficientS3BucketPolicyException"
    assert message.startswith("Incorrect S3 bucket policy is detected for bucket: audit-logs.")
    assert "s3:PutObject under AWSLogs/123456789012/" in message
    assert cloud.client("cloudtrail").describe_trails()["trailList"] == []


@pytest.mark.parametrize(
    ("policy", "prefix"),
    [
        (bucket_policy("audit-logs", prefix="other"), "trail"),
        (bucket_policy("audit-logs", source_arn=f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/another"), ""),
    ],
    ids=["another-prefix", "another-trail"],
)
def test_fix_a_policy_for_another_prefix_or_trail_is_refused(
    cloud: LocalCloud, policy: dict[str, Any], prefix: str
) -> None:
    bucket = logs_bucket(cloud, policy)
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket, S3KeyPrefix=prefix)
    assert refusal(refused)[0] == "InsufficientS3BucketPolicyException"


def test_fix_the_documented_policy_lets_the_trail_be_created(cloud: LocalCloud) -> None:
    bucket = logs_bucket(cloud, bucket_policy("audit-logs", prefix="trail"))
    arn = cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket, S3KeyPrefix="trail")["TrailARN"]
    assert arn == TRAIL


def test_fix_a_key_that_does_not_let_cloudtrail_encrypt_is_refused(cloud: LocalCloud) -> None:
    bucket = logs_bucket(cloud, bucket_policy("audit-logs"))
    kms = cloud.client("kms")
    closed = kms.create_key(Policy=json.dumps(key_policy(cloudtrail=False)))["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket, KmsKeyId=closed)
    code, message = refusal(refused)
    assert code == "InsufficientEncryptionPolicyException"
    assert "kms:GenerateDataKey*" in message
    # And with the key policy the guide gives, named by its alias, the key is stored by its ARN
    open_key = kms.create_key(Policy=json.dumps(key_policy(cloudtrail=True)))["KeyMetadata"]
    kms.create_alias(AliasName="alias/trail", TargetKeyId=open_key["KeyId"])
    created = cloud.client("cloudtrail").create_trail(Name="audit", S3BucketName=bucket, KmsKeyId="alias/trail")
    assert created["KmsKeyId"] == open_key["Arn"]


def test_fix_an_update_to_a_bucket_cloudtrail_may_not_write_is_refused(cloud: LocalCloud) -> None:
    bucket = logs_bucket(cloud, bucket_policy("audit-logs"))
    cloudtrail = cloud.client("cloudtrail")
    cloudtrail.create_trail(Name="audit", S3BucketName=bucket)
    cloud.client("s3").create_bucket(Bucket="unprepared")
    with pytest.raises(ClientError) as refused:
        cloudtrail.update_trail(Name=TRAIL, S3BucketName="unprepared")
    assert refusal(refused)[0] == "InsufficientS3BucketPolicyException"
    assert cloudtrail.get_trail(Name="audit")["Trail"]["S3BucketName"] == bucket


def test_fix_a_trail_is_deleted_by_name_or_arn_and_an_unknown_one_is_not_found(cloud: LocalCloud) -> None:
    bucket = logs_bucket(cloud, bucket_policy("audit-logs"))
    cloudtrail = cloud.client("cloudtrail")
    cloudtrail.create_trail(Name="audit", S3BucketName=bucket)
    cloudtrail.delete_trail(Name=TRAIL)
    assert cloudtrail.describe_trails()["trailList"] == []
    with pytest.raises(ClientError) as missing:
        cloudtrail.delete_trail(Name="audit")
    assert refusal(missing)[0] == "TrailNotFoundException"


def test_the_template_trail_is_provisioned_logging_with_its_properties() -> None:
    with trail_cloud() as cloud:
        cloudtrail = cloud.client("cloudtrail")
        name, arn = cloud.outputs["TrailName"], cloud.outputs["TrailArn"]
        assert (name, arn) == ("conveyor-dev", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/conveyor-dev")
        [trail] = cloudtrail.describe_trails(trailNameList=[arn])["trailList"]
        assert trail["S3BucketName"] == cloud.outputs["TrailBucketName"]
        assert (trail["S3KeyPrefix"], trail["KmsKeyId"]) == ("trail", cloud.outputs["TrailKeyArn"])
        flags = ("IsMultiRegionTrail", "LogFileValidationEnabled", "IncludeGlobalServiceEvents")
        assert [trail[flag] for flag in flags] == [True, True, True]
        assert cloudtrail.get_trail_status(Name=name)["IsLogging"]
        selectors = cloudtrail.get_event_selectors(TrailName=name)["EventSelectors"]
        assert selectors == [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
        insights = cloudtrail.get_insight_selectors(TrailName=name)["InsightSelectors"]
        assert insights == [{"InsightType": "ApiCallRateInsight"}]
