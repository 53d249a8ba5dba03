"""Every request is authorized as AWS authorizes it: moto alone lets any credentials do anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud import LocalCloud
from tests.conftest import FIXTURES

pytestmark = pytest.mark.localcloud

TEMPLATE = FIXTURES / "templates" / "empty.yaml"
ACCOUNT = "123456789012"
TRUST_ANYONE_IN_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def small() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE) as cloud:
        cloud.client("s3").create_bucket(Bucket="reports")
        yield cloud


def role(cloud: LocalCloud, name: str, *statements: dict[str, Any], boundary: str | None = None) -> str:
    iam = cloud.client("iam")
    extra = {"PermissionsBoundary": boundary} if boundary else {}
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE_IN_ACCOUNT), **extra)[
        "Role"
    ]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(document))
    return arn


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_gap_moto_lets_a_role_without_permissions_write() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_role(RoleName="nobody", AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE_IN_ACCOUNT))["Role"][
            "Arn"
        ]
        credentials = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=arn, RoleSessionName="session")[
            "Credentials"
        ]
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="reports")
        s3.put_object(Bucket="reports", Key="a.json", Body=b"{}")  # no AccessDenied


def test_fix_a_role_without_permissions_is_refused_in_s3_s_own_xml_shape(small: LocalCloud) -> None:
    s3 = small.client("s3", principal=role(small, "nobody"))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="reports", Key="a.json", Body=b"{}")
    assert code_of(refused) == ("AccessDenied", 403)
    assert "is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::reports/a.json" in str(refused.value)


def test_fix_json_services_refuse_with_access_denied_exception(small: LocalCloud) -> None:
    sqs = small.client("sqs", principal=role(small, "nobody"))
    url = small.client("sqs").create_queue(QueueName="work")["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code_of(refused) == ("AccessDenied", 403)
    dynamodb = small.client("dynamodb", principal=role(small, "nobody-else"))
    with pytest.raises(ClientError) as refused_table:
        dynamodb.get_item(TableName="anything", Key={"id": {"S": "x"}})
    assert code_of(refused_table) == ("AccessDeniedException", 403)


def test_fix_resources_are_checked_not_only_actions(small: LocalCloud) -> None:
    # Given a role that may write under reports/daily/ only
    writer = role(small, "writer", {"Action": "s3:PutObject", "Resource": "arn:aws:s3:::reports/daily/*"})
    s3 = small.client("s3", principal=writer)
    s3.put_object(Bucket="reports", Key="daily/a.json", Body=b"{}")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="reports", Key="weekly/a.json", Body=b"{}")
    assert code_of(refused) == ("AccessDenied", 403)


def test_fix_a_bucket_policy_can_grant_and_its_explicit_deny_binds_even_the_administrator(small: LocalCloud) -> None:
    reader = role(small, "reader")
    small.client("s3").put_object(Bucket="reports", Key="a.json", Body=b"{}")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": reader},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::reports/*",
            },
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::reports/*"},
        ],
    }
    small.client("s3").put_bucket_policy(Bucket="reports", Policy=json.dumps(policy))
    assert small.client("s3", principal=reader).get_object(Bucket="reports", Key="a.json")["Body"].read() == b"{}"
    with pytest.raises(ClientError) as refused:
        small.client("s3").delete_object(Bucket="reports", Key="a.json")
    assert code_of(refused) == ("AccessDenied", 403)


def test_fix_a_permission_boundary_caps_what_the_role_s_policy_allows(small: LocalCloud) -> None:
    iam = small.client("iam")
    boundary = iam.create_policy(
        PolicyName="reports-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::reports/*"}],
            }
        ),
    )["Policy"]["Arn"]
    bounded = role(
        small, "bounded", {"Action": ["s3:PutObject", "sqs:CreateQueue"], "Resource": "*"}, boundary=boundary
    )
    small.client("s3", principal=bounded).put_object(Bucket="reports", Key="a.json", Body=b"{}")
    with pytest.raises(ClientError) as refused:
        small.client("sqs", principal=bounded).create_queue(QueueName="q")
    assert code_of(refused) == ("AccessDenied", 403)


def test_fix_a_key_s_policy_and_state_govern_every_use_of_the_key(small: LocalCloud) -> None:
    # Given a key whose policy delegates to the account, and a role allowed to use it
    kms = small.client("kms")
    key = kms.create_key(
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        )
    )["KeyMetadata"]
    user = role(small, "encrypter", {"Action": "kms:Encrypt", "Resource": key["Arn"]})
    outsider = role(small, "outsider")
    small.client("kms", principal=user).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    with pytest.raises(ClientError) as refused:
        small.client("kms", principal=outsider).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert code_of(refused) == ("AccessDeniedException", 403)
    # When the key is scheduled for deletion, even the allowed role is refused for the key's state
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as pending:
        small.client("kms", principal=user).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert code_of(pending)[0] == "KMSInvalidStateException"


def test_fix_unknown_credentials_and_unmodelled_operations_are_refused(small: LocalCloud) -> None:
    stranger = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")
    with pytest.raises(ClientError) as unknown:
        stranger.list_buckets()
    assert code_of(unknown)[0] == "UnrecognizedClientException"
    glue = small.client("glue", principal=role(small, "anything", {"Action": "*", "Resource": "*"}))
    with pytest.raises(ClientError) as unmodelled:
        glue.get_databases()
    assert code_of(unmodelled)[0] == "LocalCloudUnmodelledOperation"


def test_fix_a_trust_policy_decides_which_service_may_assume_a_role(small: LocalCloud) -> None:
    iam = small.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=json.dumps({"Statement": [trust]}))["Role"][
        "Arn"
    ]
    small.client("sts", principal=arn, assumed_by="lambda.amazonaws.com")
    with pytest.raises(Exception, match="trust policy does not allow it"):
        small.client("sts", principal=arn, assumed_by="states.amazonaws.com")


def test_a_role_with_a_path_is_trusted_granted_and_named_by_its_pathed_arn(small: LocalCloud) -> None:
    # Given a role under the stack's path, trusted by Lambda, allowed to change roles under that path
    iam = small.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName="Responder", Path="/conveyor/dev/", AssumeRolePolicyDocument=json.dumps({"Statement": [trust]})
    )["Role"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/conveyor/dev/Responder"
    stack_roles = f"arn:aws:iam::{ACCOUNT}:role/conveyor/dev/*"
    statement = {"Effect": "Allow", "Action": "iam:DeleteRolePolicy", "Resource": stack_roles}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    iam.put_role_policy(RoleName="Responder", PolicyName="own", PolicyDocument=json.dumps(document))
    # And a bucket whose policy names the role by its pathed ARN
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": arn},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::reports/*",
    }
    small.client("s3").put_bucket_policy(
        Bucket="reports", Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    # When Lambda assumes it (its trust policy is checked)
    s3 = small.client("s3", principal=arn, assumed_by="lambda.amazonaws.com")
    # Then the bucket policy grants it, and its identity policy matches the pathed role ARN
    s3.put_object(Bucket="reports", Key="a.json", Body=b"{}")
    role_iam = small.client("iam", principal=arn, assumed_by="lambda.amazonaws.com")
    role_iam.delete_role_policy(RoleName="Responder", PolicyName="own")
    # And a refusal names the session as STS does, without the path
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket="reports", Key="a.json")
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/Responder/lambda-" in str(refused.value)
    with pytest.raises(Exception, match="trust policy does not allow it"):
        small.client("s3", principal=arn, assumed_by="states.amazonaws.com")
