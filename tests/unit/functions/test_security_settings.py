"""The responder's settings and the template policies it restores."""

from __future__ import annotations

import pytest
from bucket_policies import artifact_bucket_policy, data_bucket_policy, log_bucket_policy
from stack_facts import ResponderSettings
from tampering import Finding, classify
from trail_events import parse

from conveyor.errors import ConfigurationError
from conveyor_tools.bench import SAMPLE_STACK
from tests.helpers import load_event
from tests.unit.functions.responder_stack import (
    ACCOUNT,
    ARTIFACT_BUCKET,
    DATA_BUCKET,
    LOG_BUCKET,
    TRAIL_ARN,
    template_policy,
)

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENVIRONMENT = {
    "PROJECT_NAME": "conveyor",
    "STAGE": "dev",
    "CONVEYOR_VERSION": "0.1.0",
    "STATE_TABLE_NAME": "conveyor-dev-StateTable",
    "DATA_BUCKET_NAME": "conveyor-dev-data",
    "ARTIFACT_BUCKET_NAME": "conveyor-dev-artifacts",
    "LOG_BUCKET_NAME": "conveyor-dev-logs",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:conveyor-dev-notifications",
    "KEY_ARN": KEY_ARN,
    "TRAIL_ARN": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/conveyor-dev",
    "STACK_ROLE_PATH": "/conveyor/dev/",
    "STACK_ROLE_NAMES": "conveyor-dev-IngestFunctionRole-1A2B, conveyor-dev-ResponderFunctionRole-3C4D",
    "ENDPOINT_NAME": "conveyor-dev-endpoint",
    "THING_GROUP_ARN": "arn:aws:iot:eu-west-1:123456789012:thinggroup/conveyor-dev-fleet",
    "SECURITY_HUB": "enabled",
}


def test_settings_come_from_their_variables_and_derive_the_stacks_account_and_region() -> None:
    settings = ResponderSettings.from_env(ENVIRONMENT)
    assert settings.stack_role_names == (
        "conveyor-dev-IngestFunctionRole-1A2B",
        "conveyor-dev-ResponderFunctionRole-3C4D",
    )
    assert (settings.account_id, settings.region, settings.partition) == ("123456789012", "eu-west-1", "aws")
    assert settings.key_names == {
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        KEY_ARN,
        "alias/conveyor-dev",
        "arn:aws:kms:eu-west-1:123456789012:alias/conveyor-dev",
    }
    assert (settings.trail_name, settings.trail_is_the_stacks, settings.security_hub) == (
        "conveyor-dev",
        True,
        "enabled",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STACK_ROLE_PATH", "/", "STACK_ROLE_PATH: Value error, an IAM path"),
        ("KEY_ARN", "alias/conveyor-dev", "KEY_ARN: Value error, a KMS key ARN"),
        ("TRAIL_ARN", "conveyor-dev", "TRAIL_ARN: Value error, a CloudTrail trail ARN"),
        ("SECURITY_HUB", "yes", "SECURITY_HUB: Input should be 'enabled' or 'disabled'"),
        ("THING_GROUP_ARN", "fleet", "THING_GROUP_ARN: Value error, empty, or an IoT thing group ARN"),
    ],
)
def test_a_bad_variable_fails_at_cold_start_with_its_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ResponderSettings.from_env(ENVIRONMENT | {name: value})


def test_a_missing_variable_is_named() -> None:
    environment = {name: value for name, value in ENVIRONMENT.items() if name != "ENDPOINT_NAME"}
    with pytest.raises(ConfigurationError, match="ENDPOINT_NAME: Field required"):
        ResponderSettings.from_env(environment)


def test_the_restored_bucket_policies_are_those_template_yaml_deploys() -> None:
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert data_bucket_policy(DATA_BUCKET) == template_policy("DataBucket", key_arn)
    assert artifact_bucket_policy(ARTIFACT_BUCKET) == template_policy("ArtifactBucket", key_arn)
    deployed = template_policy("LogBucket", key_arn)
    assert log_bucket_policy(LOG_BUCKET, account_id=ACCOUNT, trail_arn=TRAIL_ARN) == deployed


def test_the_log_bucket_policy_lets_the_stacks_trail_write_under_trail() -> None:
    statements = {
        s["Sid"]: s for s in log_bucket_policy(LOG_BUCKET, account_id=ACCOUNT, trail_arn=TRAIL_ARN)["Statement"]
    }
    assert statements["AWSCloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
    write = statements["AWSCloudTrailWrite"]
    assert write["Resource"] == f"arn:aws:s3:::{LOG_BUCKET}/trail/AWSLogs/{ACCOUNT}/*"
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}
    }


def test_the_sample_event_is_a_finding_against_the_stack_the_sample_events_name() -> None:
    # Given the responder configured as make bench configures it for its cold start
    environment = SAMPLE_STACK | {
        "PROJECT_NAME": "conveyor",
        "STAGE": "dev",
        "CONVEYOR_VERSION": "0.1.0",
        "STATE_TABLE_NAME": "conveyor-dev-state",
        "STACK_ROLE_NAMES": "conveyor-dev-IngestFunctionRole-1A2B3C",
        "ENDPOINT_NAME": "conveyor-dev",
        "SECURITY_HUB": "disabled",
    }
    settings = ResponderSettings.from_env(environment)
    # When the sample event is classified
    verdict = classify(parse(load_event("security/responder.json")), settings)
    # Then it is a finding, so the cold start measures a real response
    assert isinstance(verdict, Finding)
    assert verdict.kind == "public-access-block-deleted"
