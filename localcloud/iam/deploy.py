"""Checks of a stack's policies that AWS makes when the stack is deployed, not on each request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localcloud.iam.authority import Authority, DeniedError
from localcloud.iam.policy import Check, unsupported_conditions

_POLICY_PROPERTIES = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies"),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
}


def unevaluable_conditions(body: dict[str, Any]) -> list[str]:
    """Each condition in the template's policies that the local cloud could not evaluate."""
    problems = []
    for logical_id, resource in body.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for name in _POLICY_PROPERTIES.get(resource["Type"], ()):
            value = properties.get(name)
            documents = [p.get("PolicyDocument", {}) for p in value] if isinstance(value, list) else [value or {}]
            problems += [f"{logical_id}.{name}: {problem}" for d in documents for problem in unsupported_conditions(d)]
    return problems


def unusable_log_group_keys(authority: Authority, groups: Iterable[Any]) -> list[str]:
    """Each log group whose KMS key CloudWatch Logs may not use, and why.

    AWS refuses to create (or associate a key with) such a group: the key policy must let
    ``logs.<region>.amazonaws.com`` use the key for that group's encryption context.
    """
    service = f"logs.{authority.region}.amazonaws.com"
    refused = []
    for group in groups:
        key = getattr(group, "kms_key_id", None)
        if not key:
            continue
        principal = authority.service_principal(service)[0]
        context = {"kms:EncryptionContext:aws:logs:arn": group.arn.removesuffix(":*")}
        checks = [Check(action, key, context) for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")]
        try:
            authority.authorize(principal, checks)
        except DeniedError as denied:
            refused.append(f"{group.name}: {denied}")
    return refused
