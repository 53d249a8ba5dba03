"""A log group's KMS key must let CloudWatch Logs use it, or the stack does not deploy."""

from __future__ import annotations

import re

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LocalCloudError
from tests.conftest import FIXTURES

pytestmark = pytest.mark.localcloud

TEMPLATE = FIXTURES / "templates" / "log_group_key.yaml"


def test_a_key_that_does_not_admit_cloudwatch_logs_fails_the_deploy() -> None:
    with pytest.raises(LocalCloudError, match=re.escape("/fixture/encrypted: User: logs.us-east-1.amazonaws.com")):
        LocalCloud.from_template(TEMPLATE, parameters={"AdmitLogs": "false"}).__enter__()


def test_a_key_that_admits_cloudwatch_logs_for_the_group_deploys() -> None:
    with LocalCloud.from_template(TEMPLATE, parameters={"AdmitLogs": "true"}) as cloud:
        [group] = cloud.client("logs").describe_log_groups(logGroupNamePrefix="/fixture/")["logGroups"]
        assert group["kmsKeyId"].startswith("arn:aws:kms:")
