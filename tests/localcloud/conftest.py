"""Helpers for the adapter tests: a cloud without one adapter shows its gap; roles and permissions for fixtures
outside the template; the events of an intrusion into the trail fixture stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL, Adapter
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.localcloud.trail_stack import intrude, trail_cloud


@pytest.fixture(scope="module")
def intrusion() -> dict[str, dict[str, Any]]:
    """The CloudTrail events of one intrusion (``trail_stack.intrude``), by eventName; its cloud is gone."""
    with trail_cloud() as deployed:
        return intrude(deployed)


@contextmanager
def cloud_without(*left_out: Adapter, delivery: AtLeastOnce | None = None) -> Iterator[LocalCloud]:
    """The stack deployed with every adapter but those ``left_out``: moto's own behaviour (in ``delivery`` mode)."""
    adapters = [a for a in ALL if a not in left_out]
    with LocalCloud.from_template(TEMPLATE, adapters=adapters, delivery=delivery) as cloud:
        yield cloud


def service_role(cloud: LocalCloud, name: str, service: str, *statements: dict[str, Any]) -> str:
    """A role that ``service`` may assume for this account only, allowed ``statements`` (or nothing)."""
    iam = cloud.client("iam")
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": cloud.account_id}},
    }
    arn: str = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(document))
    return arn


def allow_events(cloud: LocalCloud, function_arn: str, rule_arn: str) -> None:
    """Let EventBridge invoke ``function_arn`` for the rule ``rule_arn`` (the function's resource policy)."""
    cloud.client("lambda").add_permission(
        FunctionName=function_arn,
        StatementId="check-requested",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


def training_role(cloud: LocalCloud) -> str:
    """The role training jobs run as, created on first use.

    It reads ``channels/`` and writes ``training/`` and ``checkpoints/`` of the stack's artifact bucket,
    which encrypts with the stack's key.
    """
    iam = cloud.client("iam")
    with suppress(iam.exceptions.NoSuchEntityException):
        existing: str = iam.get_role(RoleName="training")["Role"]["Arn"]
        return existing
    bucket = f"arn:aws:s3:::{cloud.outputs['ArtifactBucketName']}"
    return service_role(
        cloud,
        "training",
        "sagemaker.amazonaws.com",
        {"Action": "s3:GetObject", "Resource": f"{bucket}/channels/*"},
        {"Action": "s3:ListBucket", "Resource": bucket, "Condition": {"StringLike": {"s3:prefix": "channels/*"}}},
        {"Action": ["s3:GetObject", "s3:PutObject"], "Resource": [f"{bucket}/training/*", f"{bucket}/checkpoints/*"]},
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": cloud.outputs["KeyArn"]},
    )
