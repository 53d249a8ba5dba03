"""The stack's bucket policies, exactly as template.yaml writes them, for restoring a replaced one.

One function per bucket policy of the template (DataBucketPolicy, ArtifactBucketPolicy,
LogBucketPolicy), each given what the template's ``!Sub`` and ``!GetAtt`` resolve, so a test can
compare each with the deployed policy and the two cannot drift apart unseen.
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]


def _bucket_arn(bucket_name: str, partition: str) -> str:
    return f"arn:{partition}:s3:::{bucket_name}"


def _deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def data_bucket_policy(bucket_name: str, *, partition: str = "aws") -> Policy:
    """template.yaml's DataBucketPolicy: TLS only."""
    return {"Version": "2012-10-17", "Statement": [_deny_insecure_transport(_bucket_arn(bucket_name, partition))]}


def artifact_bucket_policy(bucket_name: str, *, partition: str = "aws") -> Policy:
    """template.yaml's ArtifactBucketPolicy: TLS only."""
    return {"Version": "2012-10-17", "Statement": [_deny_insecure_transport(_bucket_arn(bucket_name, partition))]}


def log_bucket_policy(bucket_name: str, *, account_id: str, trail_arn: str, partition: str = "aws") -> Policy:
    """template.yaml's LogBucketPolicy: TLS only, S3 access-log delivery, and the stack's own trail
    (``trail_arn``; granted even while an organisation trail stands in for it) checking the
    bucket's ACL and writing under ``trail/``.
    """
    bucket_arn = _bucket_arn(bucket_name, partition)
    statements = [
        _deny_insecure_transport(bucket_arn),
        {
            "Sid": "S3ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "AWSCloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/trail/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}
