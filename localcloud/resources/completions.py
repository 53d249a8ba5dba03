"""Properties that moto's CloudFormation models drop, applied through each service's API.

Moto creates these types but ignores some of their properties: a bucket's versioning, public
access block, logging and EventBridge notifications; a table's point-in-time recovery, TTL and
KMS encryption; a function's layers, tracing and logging configuration; a log group's retention;
a KMS key's policy as JSON (moto keeps the template's object, and its DescribeKey then fails);
a role's inline policies as JSON, without the statements an ``AWS::NoValue`` removed (moto keeps
them as objects, with ``None`` where a statement was removed, and GetRolePolicy then returns a
Python repr).
Each completion wraps moto's ``create_from_cloudformation_json`` and applies what it dropped, so
the deployed resource matches template.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.dynamodb.models.table import Table
from moto.iam.models import Role
from moto.kms.models import Key
from moto.logs.models import LogGroup
from moto.s3.models import FakeBucket

from localcloud.resources.base import Provisioned

Completion = Callable[[Any, dict[str, Any], str], None]
"""(created moto resource, resolved Properties, region) -> None."""


def complete_bucket(bucket: Any, properties: dict[str, Any], region: str) -> None:
    s3 = Provisioned.client("s3", region)
    name = bucket.name
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]}
        )
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
    if "LoggingConfiguration" in properties:
        # Set on the model: moto's PutBucketLogging wants the target's policy to exist first and
        # cannot read a policy whose Principal is the string "*".
        logging = properties["LoggingConfiguration"]
        bucket.logging = {
            "TargetBucket": logging["DestinationBucketName"],
            "TargetPrefix": logging.get("LogFilePrefix", ""),
        }
    eventbridge = properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
    if eventbridge.get("EventBridgeEnabled") in (True, "true"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    if "LifecycleConfiguration" in properties:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(r) for r in properties["LifecycleConfiguration"]["Rules"]]
            },
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    api: dict[str, Any] = {
        "ID": rule.get("Id", ""),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


def complete_table(table: Any, properties: dict[str, Any], region: str) -> None:
    dynamodb = Provisioned.client("dynamodb", region)
    name = table.name
    pitr = properties.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled") in (True, "true"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": ttl["Enabled"] in (True, "true"),
            },
        )
    sse = properties.get("SSESpecification", {})
    if sse.get("SSEEnabled") in (True, "true"):
        # Moto reads the API's key name ("Enabled"), not CloudFormation's ("SSEEnabled").
        table.sse_specification = {
            "Enabled": True,
            "SSEType": sse.get("SSEType", "KMS"),
            "KMSMasterKeyId": sse.get("KMSMasterKeyId") or table.sse_specification.get("KMSMasterKeyId"),
        }


def complete_function(function: Any, properties: dict[str, Any], region: str) -> None:
    update: dict[str, Any] = {}
    if properties.get("Layers"):
        update["Layers"] = [str(layer) for layer in properties["Layers"]]
    if "TracingConfig" in properties:
        update["TracingConfig"] = properties["TracingConfig"]
    if "KmsKeyArn" in properties:
        update["KMSKeyArn"] = properties["KmsKeyArn"]
    if "LoggingConfig" in properties:
        update["LoggingConfig"] = properties["LoggingConfig"]
        # Moto's UpdateFunctionConfiguration drops it; the local runtime writes logs there.
        function.logging_config = dict(properties["LoggingConfig"])
    if update:
        Provisioned.client("lambda", region).update_function_configuration(
            FunctionName=function.function_name, **update
        )


def complete_log_group(group: Any, properties: dict[str, Any], region: str) -> None:
    if "RetentionInDays" in properties:
        Provisioned.client("logs", region).put_retention_policy(
            logGroupName=group.name, retentionInDays=int(properties["RetentionInDays"])
        )
    if "KmsKeyId" in properties:
        # Moto reads the API's "kmsKeyId" and implements no AssociateKmsKey.
        group.kms_key_id = properties["KmsKeyId"]


def complete_key(key: Any, properties: dict[str, Any], region: str) -> None:
    if not isinstance(key.policy, str):
        key.policy = json.dumps(key.policy)


def complete_role(role: Any, properties: dict[str, Any], region: str) -> None:
    for name, document in list(role.policies.items()):
        if not isinstance(document, str):
            statements = document.get("Statement", [])
            if isinstance(statements, list):
                statements = [s for s in statements if s is not None]
            role.policies[name] = json.dumps({**document, "Statement": statements})


COMPLETIONS: dict[type[Any], Completion] = {
    Key: complete_key,
    Role: complete_role,
    FakeBucket: complete_bucket,
    Table: complete_table,
    LambdaFunction: complete_function,
    LogGroup: complete_log_group,
}


def _completed(model: type[Any], completion: Completion) -> Any:
    original = model.create_from_cloudformation_json

    def create(
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        completion(resource, cloudformation_json.get("Properties", {}), region_name)
        return resource

    return classmethod(lambda cls, *args, **kwargs: create(*args, **kwargs))


@contextmanager
def installed() -> Iterator[None]:
    """Wrap moto's models with their completions while the local cloud runs."""
    with ExitStack() as stack:
        for model, completion in COMPLETIONS.items():
            stack.enter_context(
                mock.patch.object(model, "create_from_cloudformation_json", _completed(model, completion))
            )
        yield
