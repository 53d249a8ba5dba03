"""An AWS managed policy can be attached, and then grants what it grants."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localcloud.adapters.iam_managed_policies import iam_managed_policies
from tests.localcloud.small_stack import small_cloud

pytestmark = pytest.mark.localcloud

ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}],
}


def test_gap_moto_knows_no_aws_managed_policy() -> None:
    with small_cloud(without=[iam_managed_policies]) as cloud:
        iam = cloud.client("iam")
        iam.create_role(RoleName="target", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
        with pytest.raises(ClientError) as missing:
            iam.attach_role_policy(RoleName="target", PolicyArn=ADMINISTRATOR)
        assert missing.value.response["Error"]["Code"] == "NoSuchEntity"


def test_fix_an_attached_aws_managed_policy_grants_what_it_grants() -> None:
    with small_cloud() as cloud:
        iam = cloud.client("iam")
        role = iam.create_role(RoleName="target", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
        s3 = cloud.client("s3", principal=role)
        with pytest.raises(ClientError):
            s3.create_bucket(Bucket="anything")
        # When an AWS managed policy is attached to the role
        iam.attach_role_policy(RoleName="target", PolicyArn=ADMINISTRATOR)
        # Then it is listed, readable, and in force
        attached = iam.list_attached_role_policies(RoleName="target")["AttachedPolicies"]
        assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": ADMINISTRATOR}]
        assert iam.get_policy(PolicyArn=ADMINISTRATOR)["Policy"]["PolicyName"] == "AdministratorAccess"
        s3.create_bucket(Bucket="anything")


def test_fix_an_aws_managed_policy_that_does_not_exist_is_still_refused() -> None:
    with small_cloud() as cloud:
        iam = cloud.client("iam")
        iam.create_role(RoleName="target", AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
        with pytest.raises(ClientError) as missing:
            iam.attach_role_policy(RoleName="target", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
        assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
