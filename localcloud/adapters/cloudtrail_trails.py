"""Gap: moto's CloudTrail creates a trail that CloudTrail could never deliver for, and deletes none by ARN.

AWS refuses CreateTrail and UpdateTrail when the bucket's policy does not let
``cloudtrail.amazonaws.com`` read the bucket's ACL and write under ``<prefix>/AWSLogs/<account>/``
(with ``bucket-owner-full-control``), for this trail (``aws:SourceArn``):
InsufficientS3BucketPolicyException; or when the KMS key's policy does not let it generate data
keys for this trail's encryption context: InsufficientEncryptionPolicyException. Moto checks
only that the bucket exists. It also answers DeleteTrail of an unknown trail with success and
ignores a trail named by its ARN there. Fix: both policies are decided by the local cloud's
:class:`~localcloud.iam.Authority`, as CloudTrail's own requests would be (the service principal,
acting for the trail's ARN); the key is stored by its ARN, as CloudTrail stores it; DeleteTrail
takes a name or an ARN and answers TrailNotFoundException for neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.cloudtrail.exceptions import TrailNotFoundException
from moto.cloudtrail.models import CloudTrailBackend
from moto.core.exceptions import JsonRESTError
from moto.kms.models import kms_backends

from localcloud.iam import Check, DeniedError, Principal, UnsupportedConditionError

if TYPE_CHECKING:
    from localcloud.interface import Cloud

CLOUDTRAIL = "cloudtrail.amazonaws.com"


class InsufficientS3BucketPolicyError(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InsufficientS3BucketPolicyException", message)


class InsufficientEncryptionPolicyError(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InsufficientEncryptionPolicyException", message)


class KmsKeyNotFoundError(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("KmsKeyNotFoundException", message)


def trail_arn(backend: CloudTrailBackend, name: str) -> str:
    return f"arn:aws:cloudtrail:{backend.region_name}:{backend.account_id}:trail/{name}"


def delivery_checks(account_id: str, region: str, bucket: str, prefix: str | None) -> list[Check]:
    """What CloudTrail does to deliver a trail's log files to ``bucket`` under ``prefix``."""
    folder = f"{prefix.strip('/')}/" if prefix else ""
    log_file = f"{folder}AWSLogs/{account_id}/CloudTrail/{region}/{account_id}_CloudTrail_{region}.json.gz"
    return [
        Check("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}"),
        Check("s3:PutObject", f"arn:aws:s3:::{bucket}/{log_file}", {"s3:x-amz-acl": "bucket-owner-full-control"}),
    ]


def _key_arn(backend: CloudTrailBackend, key: str) -> str:
    kms = kms_backends[backend.account_id][backend.region_name]
    try:
        key_id = kms.any_id_to_key_id(key)
    except Exception:
        key_id = ""
    if key_id not in kms.keys:
        raise KmsKeyNotFoundError(f"KMS key {key} does not exist in {backend.region_name}.")
    return f"arn:aws:kms:{backend.region_name}:{backend.account_id}:key/{key_id}"


def _checked(cloud: Cloud, backend: CloudTrailBackend, name: str, *, bucket: str, prefix: str | None, key: str) -> None:
    """Raise CloudTrail's error unless it may deliver the trail ``name``'s logs (and encrypt them)."""
    arn = trail_arn(backend, name)
    principal = Principal(kind="service", arn=CLOUDTRAIL, account_id=backend.account_id, source_arn=arn)
    try:
        checks = delivery_checks(backend.account_id, backend.region_name, bucket, prefix)
        cloud.authority.authorize(principal, checks)
    except (DeniedError, UnsupportedConditionError) as denied:
        raise InsufficientS3BucketPolicyError(
            f"Incorrect S3 bucket policy is detected for bucket: {bucket}. The bucket policy must let "
            f"{CLOUDTRAIL} perform s3:GetBucketAcl on the bucket and s3:PutObject under "
            f"{(prefix.strip('/') + '/') if prefix else ''}AWSLogs/{backend.account_id}/ with "
            f"s3:x-amz-acl bucket-owner-full-control, for aws:SourceArn {arn} ({denied})"
        ) from None
    if key:
        use = Check("kms:GenerateDataKey", key, {"kms:EncryptionContext:aws:cloudtrail:arn": arn})
        try:
            cloud.authority.authorize(principal, [use])
        except (DeniedError, UnsupportedConditionError) as denied:
            raise InsufficientEncryptionPolicyError(
                f"Insufficient permissions to access S3 bucket {bucket} or KMS key {key}: the key policy must "
                f"let {CLOUDTRAIL} perform kms:GenerateDataKey* for the encryption context "
                f"aws:cloudtrail:arn {arn} ({denied})"
            ) from None


@contextmanager
def cloudtrail_trails(cloud: Cloud) -> Iterator[None]:
    create_trail: Callable[..., Any] = CloudTrailBackend.create_trail
    update_trail: Callable[..., Any] = CloudTrailBackend.update_trail

    def create(backend: CloudTrailBackend, name: str, bucket_name: str, s3_key_prefix: str, *args: Any) -> Any:
        trail = create_trail(backend, name, bucket_name, s3_key_prefix, *args)
        try:
            if trail.kms_key_id:
                trail.kms_key_id = _key_arn(backend, trail.kms_key_id)
            _checked(cloud, backend, name, bucket=bucket_name, prefix=s3_key_prefix, key=trail.kms_key_id or "")
        except JsonRESTError:
            del backend.trails[name]
            raise
        return trail

    def update(backend: CloudTrailBackend, name: str, **changes: Any) -> Any:
        trail = backend.get_trail(name)
        key = changes.get("kms_key_id")
        if key:
            changes["kms_key_id"] = key = _key_arn(backend, key)
        bucket = changes.get("s3_bucket_name") or trail.bucket_name
        prefix = changes["s3_key_prefix"] if changes.get("s3_key_prefix") is not None else trail.s3_key_prefix
        _checked(cloud, backend, trail.trail_name, bucket=bucket, prefix=prefix, key=key or trail.kms_key_id or "")
        return update_trail(backend, name, **changes)

    def delete(backend: CloudTrailBackend, name: str) -> None:
        trail = backend.get_trail(name)  # by name or ARN; TrailNotFoundException otherwise
        if trail.trail_name not in backend.trails:
            raise TrailNotFoundException(account_id=backend.account_id, name=name)
        del backend.trails[trail.trail_name]

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(CloudTrailBackend, "create_trail", create))
        stack.enter_context(mock.patch.object(CloudTrailBackend, "update_trail", update))
        stack.enter_context(mock.patch.object(CloudTrailBackend, "delete_trail", delete))
        yield
