"""A log group's ARN from the stack ends in ``:*``, as CloudFormation returns it."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.adapters.log_group_arn import log_group_arn
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud


def health_log_resources(cloud: LocalCloud) -> list[str]:
    """The resources the health function's role may write logs to."""
    iam = cloud.client("iam")
    document = iam.get_role_policy(RoleName=cloud.physical_ids["HealthFunctionRole"], PolicyName="health")
    statements = (
        json.loads(document["PolicyDocument"])
        if isinstance(document["PolicyDocument"], str)
        else document["PolicyDocument"]
    )
    [resource] = [s["Resource"] for s in statements["Statement"] if s.get("Sid") == "WriteLogs"]
    return [resource]


def test_gap_moto_gives_the_arn_without_the_stream_wildcard() -> None:
    with cloud_without(log_group_arn) as cloud:
        [resource] = health_log_resources(cloud)
    assert resource.endswith("log-group:/conveyor/dev/functions/health")


def test_fix_the_arn_covers_the_group_s_streams(cloud: LocalCloud) -> None:
    [resource] = health_log_resources(cloud)
    assert resource.endswith("log-group:/conveyor/dev/functions/health:*")
