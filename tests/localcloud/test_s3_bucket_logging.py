"""Access logging is turned on when the target's policy lets the logging service write there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.s3_bucket_logging import s3_bucket_logging
from tests.localcloud.small_stack import small_cloud

pytestmark = pytest.mark.localcloud

TLS_ONLY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::access-logs", "arn:aws:s3:::access-logs/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def log_delivery(source_account: str) -> dict[str, Any]:
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::access-logs/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": source_account}},
    }


def buckets(cloud: LocalCloud, *statements: dict[str, Any]) -> Any:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="access-logs")
    s3.put_bucket_policy(
        Bucket="access-logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )
    return s3


def logging_on(s3: Any) -> None:
    s3.put_bucket_logging(
        Bucket="data", BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "data/"}}
    )


def test_gap_moto_fails_on_a_target_policy_with_a_tls_only_deny() -> None:
    with small_cloud(without=[s3_bucket_logging]) as cloud:
        s3 = buckets(cloud, TLS_ONLY, log_delivery(cloud.account_id))
        with pytest.raises(AttributeError):
            logging_on(s3)


def test_fix_logging_is_turned_on_when_the_target_lets_the_logging_service_write() -> None:
    with small_cloud() as cloud:
        s3 = buckets(cloud, TLS_ONLY, log_delivery(cloud.account_id))
        logging_on(s3)
        enabled = s3.get_bucket_logging(Bucket="data")["LoggingEnabled"]
        assert enabled == {"TargetBucket": "access-logs", "TargetPrefix": "data/"}


def test_fix_a_target_that_admits_another_account_only_is_refused() -> None:
    with small_cloud() as cloud:
        s3 = buckets(cloud, TLS_ONLY, log_delivery("210987654321"))
        with pytest.raises(ClientError) as refused:
            logging_on(s3)
        assert refused.value.response["Error"]["Code"] == "InvalidTargetBucketForLogging"
