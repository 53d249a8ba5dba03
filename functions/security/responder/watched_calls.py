"""The watched calls: for each CloudTrail ``(eventSource, eventName)``, whether it weakens the stack.

Each rule reads the call's request parameters and returns the change it made to one of the
stack's resources (what it did, how bad it is, what the responder undoes and what only a human
can) or why it is no finding: another resource, a missing field, or a setting left as strict.
Event names are those CloudTrail logs, which are not always the API's: S3's bucket-level
``DeletePublicAccessBlock`` is logged as ``DeleteBucketPublicAccessBlock``, ``PutPublicAccessBlock``
as ``PutBucketPublicAccessBlock``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel
from remedies import Remedy
from stack_facts import ResponderSettings
from trail_events import ApiCallDetail

Severity = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


class Ignored(BaseModel):
    """An event that is no finding, and why (``reason`` is the metric's dimension)."""

    reason: str
    detail: str


class Change(BaseModel):
    """What a watched call did to one of the stack's resources."""

    kind: str
    title: str
    what: str
    what_attempted: str
    severity: Severity
    resource_type: str
    resource_id: str
    resource_name: str
    remedies: list[Remedy] = []
    manual_steps: list[str] = []


ServiceRule = Callable[[ApiCallDetail, ResponderSettings], Change | Ignored]


def _param(detail: ApiCallDetail, name: str) -> Any:
    return (detail.request_parameters or {}).get(name)


def _text(detail: ApiCallDetail, name: str) -> str | Ignored:
    value = _param(detail, name)
    if isinstance(value, str) and value:
        return value
    return Ignored(reason="missing_field", detail=f"requestParameters.{name} is missing or not a name")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _not_ours(kind: str, name: str) -> Ignored:
    return Ignored(reason="not_stack_resource", detail=f"{kind} {name} is not the stack's")


def _not_weaker(detail: ApiCallDetail, why: str) -> Ignored:
    return Ignored(reason="not_weakening", detail=f"{detail.event_name} {why}")


def _change(
    kind: str, resource: tuple[str, str, str], *, did: str, do: str, thing: str, severity: Severity, **extra: Any
) -> Change:
    """A change, worded as ``did``/``do`` + ``thing`` (e.g. "replaced"/"replace" + "the policy of x")."""
    resource_type, resource_id, resource_name = resource
    return Change(
        kind=kind,
        title=f"{did.capitalize()} {thing}",
        what=f"{did} {thing}",
        what_attempted=f"{do} {thing}",
        severity=severity,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        **extra,
    )


# The stack's buckets


def _bucket(detail: ApiCallDetail, settings: ResponderSettings) -> tuple[str, str, str] | Ignored:
    name = _text(detail, "bucketName")
    if isinstance(name, Ignored):
        return name
    if name not in settings.buckets:
        return _not_ours("bucket", name)
    return ("AwsS3Bucket", settings.bucket_arn(name), name)


def _bucket_rule(kind: str, *, did: str, do: str, thing: str, severity: Severity, remedy: Remedy) -> ServiceRule:
    def rule(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
        bucket = _bucket(detail, settings)
        if isinstance(bucket, Ignored):
            return bucket
        return _change(kind, bucket, did=did, do=do, thing=f"{thing} {bucket[2]}", severity=severity, remedies=[remedy])

    return rule


def _public_access_block(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    bucket = _bucket(detail, settings)
    if isinstance(bucket, Ignored):
        return bucket
    config = _mapping(_param(detail, "PublicAccessBlockConfiguration"))
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if not _is_true(config.get(flag))]
    if not off:
        return _not_weaker(detail, "keeps all four public access settings on")
    thing = f"the public access block of bucket {bucket[2]} ({', '.join(off)} off)"
    return _change(
        "public-access-block-loosened",
        bucket,
        did="loosened",
        do="loosen",
        thing=thing,
        severity="HIGH",
        remedies=[Remedy.RESTORE_PUBLIC_ACCESS_BLOCK],
    )


def _encryption_rules(detail: ApiCallDetail) -> list[dict[str, Any]]:
    config = _mapping(_param(detail, "ServerSideEncryptionConfiguration"))
    rules = config.get("Rule", config.get("Rules"))
    rules = [rules] if isinstance(rules, dict) else rules
    return [rule for rule in rules if isinstance(rule, dict)] if isinstance(rules, list) else []


def _encryption(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    bucket = _bucket(detail, settings)
    if isinstance(bucket, Ignored):
        return bucket
    is_log_bucket = settings.buckets[bucket[2]] == "log"

    def compliant(rule: dict[str, Any]) -> bool:
        default = _mapping(rule.get("ApplyServerSideEncryptionByDefault"))
        if is_log_bucket:
            return default.get("SSEAlgorithm") == "AES256"
        return default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID") in settings.key_names

    rules = _encryption_rules(detail)
    if rules and all(compliant(rule) for rule in rules):
        return _not_weaker(detail, "keeps the template's default encryption")
    wanted = "SSE-S3 (access logging needs it)" if is_log_bucket else "SSE-KMS with the stack's key"
    thing = f"the default encryption of bucket {bucket[2]} away from {wanted}"
    return _change(
        "encryption-changed",
        bucket,
        did="changed",
        do="change",
        thing=thing,
        severity="HIGH",
        remedies=[Remedy.RESTORE_ENCRYPTION],
    )


def _versioning(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    bucket = _bucket(detail, settings)
    if isinstance(bucket, Ignored):
        return bucket
    if _mapping(_param(detail, "VersioningConfiguration")).get("Status") != "Suspended":
        return _not_weaker(detail, "does not suspend versioning")
    thing = f"versioning of bucket {bucket[2]}"
    return _change(
        "versioning-suspended",
        bucket,
        did="suspended",
        do="suspend",
        thing=thing,
        severity="MEDIUM",
        remedies=[Remedy.RESUME_VERSIONING],
    )


def _access_logging(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    bucket = _bucket(detail, settings)
    if isinstance(bucket, Ignored):
        return bucket
    if settings.buckets[bucket[2]] == "log":
        return _not_weaker(detail, "on the log bucket, which logs nowhere")
    enabled = _mapping(_mapping(_param(detail, "BucketLoggingStatus")).get("LoggingEnabled"))
    target = enabled.get("TargetBucket")
    if target == settings.log_bucket_name:
        return _not_weaker(detail, "keeps access logs in the log bucket")
    thing = f"access logging of bucket {bucket[2]}" + (f" (now into {target})" if target else "")
    did, do = ("redirected", "redirect") if target else ("turned off", "turn off")
    return _change(
        "access-logging-changed",
        bucket,
        did=did,
        do=do,
        thing=thing,
        severity="MEDIUM",
        remedies=[Remedy.RESTORE_ACCESS_LOGGING],
    )


# The trail


def _trail(detail: ApiCallDetail, settings: ResponderSettings) -> tuple[str, str, str] | Ignored:
    name = _text(detail, "name")
    if isinstance(name, Ignored):
        return name
    if name not in (settings.trail_name, settings.trail_arn):
        return _not_ours("trail", name)
    return ("AwsCloudTrailTrail", settings.trail_arn, settings.trail_name)


def _recreate_trail(settings: ResponderSettings, verb: str) -> list[str]:
    if not settings.trail_is_the_stacks:
        return [f"aws cloudtrail get-trail --name {settings.trail_arn} --region {settings.region}  "
                "# the organisation trail: its owner restores it as configured"]  # fmt: skip
    name = settings.trail_name if verb == "create-trail" else settings.trail_arn
    return [
        f"aws cloudtrail {verb} --name {name} --s3-bucket-name {settings.log_bucket_name} --s3-key-prefix trail "
        f"--is-multi-region-trail --include-global-service-events --enable-log-file-validation "
        f"--kms-key-id {settings.key_arn} --region {settings.region}",
        f"aws cloudtrail start-logging --name {settings.trail_arn} --region {settings.region}",
    ]


def _stop_logging(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    trail = _trail(detail, settings)
    if isinstance(trail, Ignored):
        return trail
    thing = f"logging of trail {trail[2]}"
    return _change(
        "trail-stopped",
        trail,
        did="stopped",
        do="stop",
        thing=thing,
        severity="CRITICAL",
        remedies=[Remedy.START_LOGGING],
    )


def _delete_trail(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    trail = _trail(detail, settings)
    if isinstance(trail, Ignored):
        return trail
    steps = _recreate_trail(settings, "create-trail")
    return _change(
        "trail-deleted",
        trail,
        did="deleted",
        do="delete",
        thing=f"trail {trail[2]}",
        severity="CRITICAL",
        manual_steps=steps,
    )


def _update_trail(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    trail = _trail(detail, settings)
    if isinstance(trail, Ignored):
        return trail
    changed = sorted(set(detail.request_parameters or {}) - {"name"})
    thing = f"trail {trail[2]} ({', '.join(changed) or 'no setting named'})"
    steps = _recreate_trail(settings, "update-trail")
    return _change("trail-updated", trail, did="updated", do="update", thing=thing, severity="HIGH", manual_steps=steps)


# The key


def _key(detail: ApiCallDetail, settings: ResponderSettings) -> tuple[str, str, str] | Ignored:
    key_id = _text(detail, "keyId")
    if isinstance(key_id, Ignored):
        return key_id
    named = {key_id} | {resource.arn for resource in detail.resources or [] if resource.arn}
    if not named & settings.key_names:
        return _not_ours("key", key_id)
    return ("AwsKmsKey", settings.key_arn, settings.key_id)


def _disable_key(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    key = _key(detail, settings)
    if isinstance(key, Ignored):
        return key
    return _change(
        "key-disabled",
        key,
        did="disabled",
        do="disable",
        thing=f"key {key[1]}",
        severity="CRITICAL",
        remedies=[Remedy.ENABLE_KEY],
    )


def _schedule_key_deletion(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    key = _key(detail, settings)
    if isinstance(key, Ignored):
        return key
    days = _param(detail, "pendingWindowInDays")
    thing = f"deletion of key {key[1]}" + (f" in {days} days" if isinstance(days, int) else "")
    remedies = [Remedy.CANCEL_KEY_DELETION, Remedy.ENABLE_KEY]
    return _change(
        "key-deletion-scheduled",
        key,
        did="scheduled",
        do="schedule",
        thing=thing,
        severity="CRITICAL",
        remedies=remedies,
    )


def _put_key_policy(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    key = _key(detail, settings)
    if isinstance(key, Ignored):
        return key
    step = (
        f"aws kms put-key-policy --key-id {settings.key_arn} --policy-name default --policy file://key-policy.json "
        f"--region {settings.region}  # key-policy.json: the KeyPolicy of template.yaml's Key, resolved"
    )
    thing = f"the key policy of key {key[1]}"
    return _change(
        "key-policy-replaced",
        key,
        did="replaced",
        do="replace",
        thing=thing,
        severity="CRITICAL",
        manual_steps=[step],
    )


# The endpoint


def _endpoint(detail: ApiCallDetail, settings: ResponderSettings) -> tuple[str, str, str] | Ignored:
    name = _text(detail, "endpointName")
    if isinstance(name, Ignored):
        return name
    if name != settings.endpoint_name:
        return _not_ours("endpoint", name)
    arn = f"arn:{settings.partition}:sagemaker:{settings.region}:{settings.account_id}:endpoint/{name.lower()}"
    return ("Other", arn, name)


def _endpoint_rule(kind: str, *, did: str, do: str, undo: str) -> ServiceRule:
    def rule(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
        endpoint = _endpoint(detail, settings)
        if isinstance(endpoint, Ignored):
            return endpoint
        name, region = shlex.quote(endpoint[2]), settings.region
        steps = [
            f"aws sagemaker list-endpoint-configs --name-contains {name} --sort-by CreationTime "
            f"--sort-order Descending --region {region}  # the config the canary release last set",
            undo.format(name=name, region=region),
        ]
        thing = f"endpoint {endpoint[2]}"
        return _change(kind, endpoint, did=did, do=do, thing=thing, severity="HIGH", manual_steps=steps)

    return rule


# The stack's roles


def _role(detail: ApiCallDetail, settings: ResponderSettings) -> tuple[str, str, str] | Ignored:
    name = _text(detail, "roleName")
    if isinstance(name, Ignored):
        return name
    if name not in settings.stack_role_names:
        return _not_ours("role", name)
    arn = f"arn:{settings.partition}:iam::{settings.account_id}:role{settings.stack_role_path}{name}"
    return ("AwsIamRole", arn, name)


def _role_rule(kind: str, *, did: str, do: str, what: str, undo: str) -> ServiceRule:
    def rule(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
        role = _role(detail, settings)
        if isinstance(role, Ignored):
            return role
        policy = {name: shlex.quote(str(_param(detail, name) or "?")) for name in ("policyArn", "policyName")}
        thing = what.format(role=role[2], **policy)
        step = undo.format(role=shlex.quote(role[2]), **policy)
        return _change(kind, role, did=did, do=do, thing=thing, severity="HIGH", manual_steps=[step])

    return rule


# The fleet


def _deployment(detail: ApiCallDetail, settings: ResponderSettings) -> Change | Ignored:
    target = _text(detail, "targetArn")
    if isinstance(target, Ignored):
        return target
    if not settings.thing_group_arn or target != settings.thing_group_arn:
        return _not_ours("deployment target", target)
    deployment_id = _mapping(detail.response_elements).get("deploymentId")
    region = settings.region
    steps = [
        f"aws greengrassv2 cancel-deployment --deployment-id {shlex.quote(str(deployment_id or '<deployment id>'))} "
        f"--region {region}",
        f"aws greengrassv2 list-deployments --target-arn {target} --history-filter ALL --region {region}  "
        "# then deploy the model in service again through the edge release workflow",
    ]
    resource = ("Other", target, target.rsplit("/", 1)[-1])
    thing = f"a deployment to thing group {resource[2]}"
    return _change(
        "foreign-deployment",
        resource,
        did="created",
        do="create",
        thing=thing,
        severity="CRITICAL",
        manual_steps=steps,
    )


S3 = "s3.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
KMS = "kms.amazonaws.com"
SAGEMAKER = "sagemaker.amazonaws.com"
IAM = "iam.amazonaws.com"
GREENGRASS = "greengrass.amazonaws.com"
RULES: dict[tuple[str, str], ServiceRule] = {
    (S3, "PutBucketPolicy"): _bucket_rule(
        "bucket-policy-replaced",
        did="replaced",
        do="replace",
        thing="the policy of bucket",
        severity="HIGH",
        remedy=Remedy.RESTORE_BUCKET_POLICY,
    ),
    (S3, "DeleteBucketPolicy"): _bucket_rule(
        "bucket-policy-deleted",
        did="deleted",
        do="delete",
        thing="the policy of bucket",
        severity="HIGH",
        remedy=Remedy.RESTORE_BUCKET_POLICY,
    ),
    (S3, "PutBucketAcl"): _bucket_rule(
        "bucket-acl-changed",
        did="changed",
        do="change",
        thing="the ACL of bucket",
        severity="HIGH",
        remedy=Remedy.RESTORE_BUCKET_ACL,
    ),
    (S3, "DeleteBucketPublicAccessBlock"): _bucket_rule(
        "public-access-block-deleted",
        did="deleted",
        do="delete",
        thing="the public access block of bucket",
        severity="HIGH",
        remedy=Remedy.RESTORE_PUBLIC_ACCESS_BLOCK,
    ),
    (S3, "PutBucketPublicAccessBlock"): _public_access_block,
    (S3, "DeleteBucketEncryption"): _bucket_rule(
        "encryption-deleted",
        did="deleted",
        do="delete",
        thing="the default encryption of bucket",
        severity="HIGH",
        remedy=Remedy.RESTORE_ENCRYPTION,
    ),
    (S3, "PutBucketEncryption"): _encryption,
    (S3, "PutBucketVersioning"): _versioning,
    (S3, "PutBucketLogging"): _access_logging,
    (CLOUDTRAIL, "StopLogging"): _stop_logging,
    (CLOUDTRAIL, "DeleteTrail"): _delete_trail,
    (CLOUDTRAIL, "UpdateTrail"): _update_trail,
    (KMS, "DisableKey"): _disable_key,
    (KMS, "ScheduleKeyDeletion"): _schedule_key_deletion,
    (KMS, "PutKeyPolicy"): _put_key_policy,
    (SAGEMAKER, "UpdateEndpoint"): _endpoint_rule(
        "endpoint-updated",
        did="updated",
        do="update",
        undo="aws sagemaker update-endpoint --endpoint-name {name} --endpoint-config-name <that config> "
        "--region {region}",
    ),
    (SAGEMAKER, "UpdateEndpointWeightsAndCapacities"): _endpoint_rule(
        "endpoint-weights-changed",
        did="changed the weights of",
        do="change the weights of",
        undo="aws sagemaker update-endpoint-weights-and-capacities --endpoint-name {name} "
        "--desired-weights-and-capacities VariantName=<variant>,DesiredWeight=<its weight in that config> "
        "--region {region}",
    ),
    (SAGEMAKER, "DeleteEndpoint"): _endpoint_rule(
        "endpoint-deleted",
        did="deleted",
        do="delete",
        undo="aws sagemaker create-endpoint --endpoint-name {name} --endpoint-config-name <that config> "
        "--region {region}",
    ),
    (IAM, "AttachRolePolicy"): _role_rule(
        "role-policy-attached",
        did="attached",
        do="attach",
        what="policy {policyArn} to role {role}",
        undo="aws iam detach-role-policy --role-name {role} --policy-arn {policyArn}",
    ),
    (IAM, "PutRolePolicy"): _role_rule(
        "role-inline-policy-put",
        did="put",
        do="put",
        what="inline policy {policyName} on role {role}",
        undo="aws iam delete-role-policy --role-name {role} --policy-name {policyName}  # if template.yaml gives "
        "the role a policy of that name, put that one back instead: aws iam put-role-policy --role-name {role} "
        "--policy-name {policyName} --policy-document file://policy.json",
    ),
    (IAM, "DeleteRolePolicy"): _role_rule(
        "role-inline-policy-deleted",
        did="deleted",
        do="delete",
        what="inline policy {policyName} of role {role}",
        undo="aws iam put-role-policy --role-name {role} --policy-name {policyName} "
        "--policy-document file://policy.json  # policy.json: that policy of the role in template.yaml, resolved",
    ),
    (IAM, "UpdateAssumeRolePolicy"): _role_rule(
        "role-trust-changed",
        did="changed",
        do="change",
        what="the trust policy of role {role}",
        undo="aws iam update-assume-role-policy --role-name {role} --policy-document file://trust.json"
        "  # trust.json: the role's AssumeRolePolicyDocument in template.yaml",
    ),
    (GREENGRASS, "CreateDeployment"): _deployment,
}
