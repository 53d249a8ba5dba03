"""The local cloud's IAM policy evaluation, statement by statement, as AWS evaluates policies."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.iam.policy import (
    Check,
    Effect,
    Principal,
    PrincipalMatch,
    UnsupportedConditionError,
    identity_effect,
    principal_match,
    resource_decision,
    unsupported_conditions,
)

ACCOUNT = "123456789012"
ROLE = Principal(
    kind="role",
    arn=f"arn:aws:iam::{ACCOUNT}:role/ingest",
    account_id=ACCOUNT,
    session_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ingest/lambda-1",
)
EVENTS = Principal(kind="service", arn="events.amazonaws.com", account_id=ACCOUNT, source_arn="arn:aws:events:rule/r")
BUCKET = "arn:aws:s3:::data"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}


def effect(document: dict[str, Any], action: str, resource: str, **context: Any) -> Effect:
    return identity_effect([document], Check(action, resource, context))


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("s3:PutObject", f"{BUCKET}/quarantine/a.csv", Effect.ALLOW),
        ("S3:putobject", f"{BUCKET}/quarantine/a.csv", Effect.ALLOW),  # actions ignore case
        ("s3:PutObject", f"{BUCKET}/Quarantine/a.csv", Effect.NEUTRAL),  # resources do not
        ("s3:PutObject", f"{BUCKET}/datasets/a.csv", Effect.NEUTRAL),
        ("s3:GetObject", f"{BUCKET}/quarantine/a.csv", Effect.NEUTRAL),
    ],
)
def test_actions_and_resources_match_with_wildcards(action: str, resource: str, expected: Effect) -> None:
    document = policy({"Action": "s3:Put*", "Resource": f"{BUCKET}/quarantine/*"})
    assert effect(document, action, resource) is expected


def test_an_explicit_deny_wins_over_any_allow() -> None:
    document = policy(
        {"Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*"},
    )
    assert effect(document, "s3:DeleteObject", f"{BUCKET}/a") is Effect.DENY
    assert effect(document, "s3:GetObject", f"{BUCKET}/a") is Effect.ALLOW


def test_not_action_and_not_resource_invert_the_match() -> None:
    document = policy({"NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"})
    assert effect(document, "s3:GetObject", f"{BUCKET}/a") is Effect.ALLOW
    assert effect(document, "iam:PassRole", "arn:aws:iam::1:role/x") is Effect.NEUTRAL
    assert effect(document, "s3:GetObject", f"{BUCKET}/secret/a") is Effect.NEUTRAL


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
            True,
        ),
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "lambda.amazonaws.com"},
            False,
        ),
        ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, {}, False),
        ({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}, {}, True),
        ({"StringEqualsIfExists": {"iam:PassedToService": "x"}}, {}, True),
        ({"StringLike": {"s3:prefix": "datasets/channels/*"}}, {"s3:prefix": "datasets/channels/run-1/"}, True),
        ({"StringLike": {"s3:prefix": "datasets/channels/*"}}, {"s3:prefix": "datasets/"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/r"}},
            {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/r"},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"NumericLessThan": {"s3:prefix": "10"}}, {"s3:prefix": "9"}, True),
        ({"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),  # keys ignore case
        (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["health#*"]}},
            {"dynamodb:LeadingKeys": ["health#a", "health#b"]},
            True,
        ),
        (
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["health#*"]}},
            {"dynamodb:LeadingKeys": ["health#a", "dataset"]},
            False,
        ),
        (
            {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["health#*"]}},
            {"dynamodb:LeadingKeys": ["health#a", "dataset"]},
            True,
        ),
        (
            {"StringEquals": {"cloudwatch:namespace": "A"}, "Bool": {"aws:SecureTransport": "true"}},
            {"cloudwatch:namespace": "A", "aws:SecureTransport": "true"},
            True,
        ),
        (
            {"StringEquals": {"cloudwatch:namespace": "A"}, "Bool": {"aws:SecureTransport": "true"}},
            {"cloudwatch:namespace": "B", "aws:SecureTransport": "true"},
            False,
        ),
    ],
)
def test_conditions_hold_as_aws_evaluates_them(condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    document = policy({"Action": "s3:ListBucket", "Resource": "*", "Condition": condition})
    assert (effect(document, "s3:ListBucket", BUCKET, **context) is Effect.ALLOW) is holds


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, "DateGreaterThan"),
        ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, "aws:RequestedRegion"),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "IpAddress"),
    ],
)
def test_a_condition_the_local_cloud_cannot_evaluate_is_refused_never_assumed(
    condition: dict[str, Any], named: str
) -> None:
    document = policy({"Action": "s3:ListBucket", "Resource": "*", "Condition": condition})
    assert any(named in problem for problem in unsupported_conditions(document))
    with pytest.raises(UnsupportedConditionError, match=named):
        effect(document, "s3:ListBucket", BUCKET)


@pytest.mark.parametrize(
    ("element", "principal", "expected"),
    [
        ("*", ROLE, PrincipalMatch.DIRECT),
        ({"AWS": "*"}, EVENTS, PrincipalMatch.DIRECT),
        ({"AWS": ROLE.arn}, ROLE, PrincipalMatch.DIRECT),
        ({"AWS": ROLE.session_arn}, ROLE, PrincipalMatch.DIRECT),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ROLE, PrincipalMatch.ACCOUNT),
        ({"AWS": ACCOUNT}, ROLE, PrincipalMatch.ACCOUNT),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, ROLE, PrincipalMatch.NONE),
        ({"Service": "events.amazonaws.com"}, EVENTS, PrincipalMatch.DIRECT),
        ({"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}, EVENTS, PrincipalMatch.DIRECT),
        ({"Service": "events.amazonaws.com"}, ROLE, PrincipalMatch.NONE),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, EVENTS, PrincipalMatch.NONE),
    ],
)
def test_principals_match_as_resource_policies_name_them(
    element: Any, principal: Principal, expected: PrincipalMatch
) -> None:
    assert principal_match(element, principal) is expected


def test_a_resource_policy_grants_directly_delegates_to_the_account_or_denies() -> None:
    document = policy(
        {
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": EVENTS.source_arn}},
        },
        {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:Decrypt", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    send = Check(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:1:dlq",
        {"aws:SourceArn": EVENTS.source_arn, "aws:SecureTransport": "true"},
    )
    assert resource_decision(document, EVENTS, send).allow
    other_rule = Check(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:1:dlq",
        {"aws:SourceArn": "arn:aws:events:rule/x", "aws:SecureTransport": "true"},
    )
    assert not resource_decision(document, EVENTS, other_rule).allow
    decrypt = resource_decision(
        document, ROLE, Check("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k", {"aws:SecureTransport": "true"})
    )
    assert (decrypt.allow, decrypt.allow_account) == (False, True)
    plain = Check(
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:1:dlq",
        {"aws:SourceArn": EVENTS.source_arn, "aws:SecureTransport": "false"},
    )
    assert resource_decision(document, EVENTS, plain).deny
