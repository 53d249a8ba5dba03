"""Gap: moto's PutBucketLogging reads the target bucket's policy by string matching, and crashes on it.

Moto accepts a logging target whose policy has a statement for ``logging.s3.amazonaws.com`` with
exactly the resource it expects, ignores conditions and denials, and fails with an unhandled
AttributeError when any statement's Principal is the string ``"*"`` (a TLS-only deny, in every
bucket policy of the stack). So turning a bucket's access logging back on fails. Fix: the target
must let the logging service write its log objects there (``s3:PutObject`` under the target
prefix, for the source bucket as ``aws:SourceArn`` and the account as ``aws:SourceAccount``), as
decided by the local cloud's :class:`~localcloud.iam.Authority`, or grant the log-delivery group
through its ACL, as moto already checks; otherwise InvalidTargetBucketForLogging, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.s3.exceptions import CrossLocationLoggingProhibited, InvalidTargetBucketForLogging
from moto.s3.models import FakeBucket

from localcloud.iam import Check, DeniedError, Principal, UnsupportedConditionError

if TYPE_CHECKING:
    from localcloud.interface import Cloud

LOGGING = "logging.s3.amazonaws.com"


@contextmanager
def s3_bucket_logging(cloud: Cloud) -> Iterator[None]:
    def may_deliver(bucket: FakeBucket, target: FakeBucket, prefix: str) -> bool:
        principal = Principal(
            kind="service", arn=LOGGING, account_id=cloud.account_id, source_arn=f"arn:aws:s3:::{bucket.name}"
        )
        log_object = f"arn:aws:s3:::{target.name}/{prefix}2024-01-01-00-00-00-0123456789ABCDEF"
        try:
            cloud.authority.authorize(principal, [Check("s3:PutObject", log_object)])
        except (DeniedError, UnsupportedConditionError):
            return False
        return True

    def set_logging(bucket: FakeBucket, logging_config: dict[str, Any] | None, bucket_backend: Any) -> None:
        if not logging_config:
            bucket.logging = {}
            return
        target = bucket_backend.buckets.get(logging_config["TargetBucket"])
        if not target:
            raise InvalidTargetBucketForLogging("The target bucket for logging does not exist.")
        prefix = logging_config.get("TargetPrefix") or ""
        if not (may_deliver(bucket, target, prefix) or FakeBucket._log_permissions_enabled_acl(target)):
            raise InvalidTargetBucketForLogging(
                "You must either provide the necessary permissions to the logging service using a bucket "
                "policy or give the log-delivery group WRITE and READ_ACP permissions to the target bucket"
            )
        if target.region_name != bucket.region_name:
            raise CrossLocationLoggingProhibited()
        bucket.logging = logging_config

    with mock.patch.object(FakeBucket, "set_logging", set_logging):
        yield
