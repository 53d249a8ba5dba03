"""The security responder against the stack of template.yaml in moto: what it undoes, freezes and tells.

Each test delivers a CloudTrail event as EventBridge does, after the intruder's change has been
made, and reads the outcome back through the services' APIs, the state table and the alert a
human receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from incident import respond

from conveyor import aws
from conveyor.state.control import freeze_state, is_frozen
from conveyor.state.findings import get_finding
from tests.unit.functions.responder_stack import (
    DATA_BUCKET,
    LOG_BUCKET,
    MALLORY,
    STACK_ROLES,
    THING_GROUP_ARN,
    TRAIL_ARN,
    Stack,
    aimed,
    deployed_stack,
    intruder_call,
    load,
    template_policy,
)

NOW = datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)
S3 = "s3.amazonaws.com"
ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@pytest.fixture
def stack() -> Iterator[Stack]:
    with deployed_stack() as deployed:
        yield deployed


def deliver(stack: Stack, event: Any) -> Any:
    return respond(stack.settings, event, now=NOW)


def only_alert(stack: Stack) -> dict[str, str]:
    alerts = stack.alerts()
    assert len(alerts) == 1, alerts
    return alerts[0]


def test_a_deleted_public_access_block_is_restored_releases_freeze_and_a_human_is_told(stack: Stack) -> None:
    # Given mallory deleted the data bucket's public access block
    s3 = boto3.client("s3")
    s3.delete_public_access_block(Bucket=DATA_BUCKET)
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET, "publicAccessBlock": [""]})
    # When its CloudTrail event arrives
    outcome = deliver(stack, event)
    # Then the block is back, all four settings on
    assert s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"] == ALL_ON
    # And releases are frozen with the finding, its reason and who did it
    freeze = freeze_state(stack.settings.state_table_name)
    finding_id = event["detail"]["eventID"]
    assert (freeze.frozen, freeze.finding_ids, freeze.principal) == (True, [finding_id], MALLORY)
    assert freeze.reason == f"Deleted the public access block of bucket {DATA_BUCKET}"
    # And the finding is recorded with who, what, where and when
    record = get_finding(stack.settings.state_table_name, finding_id)
    assert record is not None
    assert (record.status, record.kind, record.principal, record.source_ip_address) == (
        "DONE",
        "public-access-block-deleted",
        MALLORY,
        "203.0.113.7",
    )
    assert record.remediated == ["restored the public access block (all four settings on)"]
    # And the alert says what happened, to what, by whom, from where, what was undone and how to unfreeze
    alert = only_alert(stack)
    assert alert["Subject"] == f"conveyor dev HIGH: Deleted the public access block of bucket {DATA_BUCKET}"
    for text in (
        f"What happened: deleted the public access block of bucket {DATA_BUCKET}.",
        f"To what: AwsS3Bucket arn:aws:s3:::{DATA_BUCKET}",
        f"By whom: IAMUser {MALLORY}",
        "From where: 203.0.113.7",
        "  - restored the public access block (all four settings on)",
        "Releases: FROZEN.",
        "aws lambda invoke --function-name conveyor-dev-UnfreezeFunction-1A2B3C",
        f'"finding_id": "{finding_id}"',
    ):
        assert text in alert["Message"]
    assert outcome.status == "responded"


def test_a_loosened_public_access_block_from_a_captured_event_is_restored(stack: Stack) -> None:
    s3 = boto3.client("s3")
    loosened = ALL_ON | {"BlockPublicPolicy": False, "BlockPublicAcls": False}
    s3.put_public_access_block(Bucket=DATA_BUCKET, PublicAccessBlockConfiguration=loosened)
    event = aimed(load("s3_put_bucket_public_access_block_captured.json"), bucketName=DATA_BUCKET)
    outcome = deliver(stack, event)
    assert s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"] == ALL_ON
    assert outcome.kind == "public-access-block-loosened"
    assert "(BlockPublicAcls, BlockPublicPolicy off)" in only_alert(stack)["Message"]


def test_deleted_default_encryption_is_restored_with_the_stack_key_and_bucket_key(stack: Stack) -> None:
    s3 = boto3.client("s3")
    s3.delete_bucket_encryption(Bucket=DATA_BUCKET)
    deliver(stack, intruder_call("DeleteBucketEncryption", S3, {"bucketName": DATA_BUCKET}))
    rule = s3.get_bucket_encryption(Bucket=DATA_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": stack.settings.key_arn,
    }
    assert rule["BucketKeyEnabled"] is True


def test_the_log_bucket_gets_sse_s3_back_because_access_logging_needs_it(stack: Stack) -> None:
    s3 = boto3.client("s3")
    kms_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/aws/s3"}}
    s3.put_bucket_encryption(Bucket=LOG_BUCKET, ServerSideEncryptionConfiguration={"Rules": [kms_rule]})
    parameters = {"bucketName": LOG_BUCKET, "ServerSideEncryptionConfiguration": {"Rule": kms_rule}}
    outcome = deliver(stack, intruder_call("PutBucketEncryption", S3, parameters))
    rule = s3.get_bucket_encryption(Bucket=LOG_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert outcome.kind == "encryption-changed"


def test_suspended_versioning_is_resumed(stack: Stack) -> None:
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    parameters = {"bucketName": DATA_BUCKET, "VersioningConfiguration": {"Status": "Suspended"}}
    deliver(stack, intruder_call("PutBucketVersioning", S3, parameters))
    assert s3.get_bucket_versioning(Bucket=DATA_BUCKET)["Status"] == "Enabled"


def test_a_replaced_bucket_policy_is_put_back_as_template_yaml_writes_it(stack: Stack) -> None:
    s3 = boto3.client("s3")
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{DATA_BUCKET}/*"}
        ],
    }
    s3.put_bucket_policy(Bucket=DATA_BUCKET, Policy=json.dumps(public))
    deliver(stack, intruder_call("PutBucketPolicy", S3, {"bucketName": DATA_BUCKET, "bucketPolicy": public}))
    restored = json.loads(s3.get_bucket_policy(Bucket=DATA_BUCKET)["Policy"])
    assert restored == template_policy("DataBucket", stack.settings.key_arn)


def test_a_changed_bucket_acl_is_reset_and_acls_disabled_again(stack: Stack) -> None:
    s3 = boto3.client("s3")
    s3.put_bucket_ownership_controls(
        Bucket=DATA_BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_bucket_acl(Bucket=DATA_BUCKET, ACL="public-read")
    event = aimed(load("s3_put_bucket_acl.json"), bucketName=DATA_BUCKET)
    deliver(stack, event)
    grants = s3.get_bucket_acl(Bucket=DATA_BUCKET)["Grants"]
    assert all("URI" not in grant["Grantee"] for grant in grants)
    rules = s3.get_bucket_ownership_controls(Bucket=DATA_BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_access_logging_turned_off_is_turned_on_again_into_the_log_bucket(stack: Stack) -> None:
    s3 = boto3.client("s3")
    s3.put_bucket_logging(Bucket=DATA_BUCKET, BucketLoggingStatus={})
    deliver(stack, intruder_call("PutBucketLogging", S3, {"bucketName": DATA_BUCKET, "BucketLoggingStatus": {}}))
    assert s3.get_bucket_logging(Bucket=DATA_BUCKET)["LoggingEnabled"] == {
        "TargetBucket": LOG_BUCKET,
        "TargetPrefix": "data/",
    }


def test_a_stopped_trail_logs_again(stack: Stack) -> None:
    cloudtrail = boto3.client("cloudtrail")
    cloudtrail.stop_logging(Name=TRAIL_ARN)
    outcome = deliver(stack, intruder_call("StopLogging", "cloudtrail.amazonaws.com", {"name": TRAIL_ARN}))
    assert cloudtrail.get_trail_status(Name=TRAIL_ARN)["IsLogging"] is True
    assert (outcome.kind, outcome.severity, outcome.frozen) == ("trail-stopped", "CRITICAL", True)


def test_a_disabled_key_from_the_kms_documentation_is_enabled_again(stack: Stack) -> None:
    kms = boto3.client("kms")
    kms.disable_key(KeyId=stack.settings.key_id)
    event = aimed(load("kms_disable_key.json"), keyId=stack.settings.key_id)
    event["detail"]["resources"] = [{"ARN": stack.settings.key_arn, "accountId": stack.settings.account_id}]
    deliver(stack, event)
    assert kms.describe_key(KeyId=stack.settings.key_arn)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_key_scheduled_for_deletion_is_cancelled_and_enabled(stack: Stack) -> None:
    kms = boto3.client("kms")
    kms.schedule_key_deletion(KeyId=stack.settings.key_id, PendingWindowInDays=20)
    event = aimed(load("kms_schedule_key_deletion.json"), keyId="alias/conveyor-dev")
    outcome = deliver(stack, event)
    assert kms.describe_key(KeyId=stack.settings.key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    assert outcome.remediated == ["cancelled the key's scheduled deletion", "enabled the key"]


@pytest.mark.parametrize(
    ("event", "kind", "manual"),
    [
        (
            intruder_call("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "conveyor-dev"}),
            "trail-deleted",
            "aws cloudtrail create-trail --name conveyor-dev --s3-bucket-name conveyor-dev-logs",
        ),
        (
            intruder_call("UpdateTrail", "cloudtrail.amazonaws.com", {"name": TRAIL_ARN, "s3BucketName": "elsewhere"}),
            "trail-updated",
            f"aws cloudtrail update-trail --name {TRAIL_ARN} --s3-bucket-name conveyor-dev-logs",
        ),
        (
            intruder_call(
                "AttachRolePolicy",
                "iam.amazonaws.com",
                {"roleName": STACK_ROLES[0], "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            ),
            "role-policy-attached",
            f"aws iam detach-role-policy --role-name {STACK_ROLES[0]} --policy-arn arn:aws:iam::aws:policy/",
        ),
        (
            intruder_call("PutRolePolicy", "iam.amazonaws.com", {"roleName": STACK_ROLES[0], "policyName": "backdoor"}),
            "role-inline-policy-put",
            f"aws iam delete-role-policy --role-name {STACK_ROLES[0]} --policy-name backdoor",
        ),
        (
            intruder_call(
                "DeleteRolePolicy", "iam.amazonaws.com", {"roleName": STACK_ROLES[1], "policyName": "respond"}
            ),
            "role-inline-policy-deleted",
            f"aws iam put-role-policy --role-name {STACK_ROLES[1]} --policy-name respond",
        ),
        (
            intruder_call(
                "UpdateAssumeRolePolicy", "iam.amazonaws.com", {"roleName": STACK_ROLES[1], "policyDocument": "{}"}
            ),
            "role-trust-changed",
            f"aws iam update-assume-role-policy --role-name {STACK_ROLES[1]}",
        ),
        (
            intruder_call("UpdateEndpoint", "sagemaker.amazonaws.com", {"endpointName": "conveyor-dev-endpoint"}),
            "endpoint-updated",
            "aws sagemaker update-endpoint --endpoint-name conveyor-dev-endpoint",
        ),
        (
            intruder_call(
                "UpdateEndpointWeightsAndCapacities",
                "sagemaker.amazonaws.com",
                {"endpointName": "conveyor-dev-endpoint"},
            ),
            "endpoint-weights-changed",
            "aws sagemaker update-endpoint-weights-and-capacities --endpoint-name conveyor-dev-endpoint",
        ),
        (
            intruder_call("DeleteEndpoint", "sagemaker.amazonaws.com", {"endpointName": "conveyor-dev-endpoint"}),
            "endpoint-deleted",
            "aws sagemaker create-endpoint --endpoint-name conveyor-dev-endpoint",
        ),
        (
            intruder_call(
                "CreateDeployment",
                "greengrass.amazonaws.com",
                {"targetArn": THING_GROUP_ARN, "deploymentName": "mine", "components": {}},
                responseElements={"deploymentId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"},
            ),
            "foreign-deployment",
            "aws greengrassv2 cancel-deployment --deployment-id a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and not value.startswith("aws ") else "",
)
def test_what_cannot_be_undone_safely_is_reported_with_the_call_that_undoes_it(
    stack: Stack, event: dict[str, Any], kind: str, manual: str
) -> None:
    outcome = deliver(stack, event)
    assert (outcome.kind, outcome.remediated, outcome.frozen) == (kind, [], True)
    assert any(step.startswith(manual) for step in outcome.manual_steps), outcome.manual_steps
    alert = only_alert(stack)
    assert "Undone by the responder:\n  - nothing" in alert["Message"]
    assert manual in alert["Message"]
    assert is_frozen(stack.settings.state_table_name)


def test_a_replaced_key_policy_from_the_kms_documentation_is_reported_not_undone(stack: Stack) -> None:
    event = aimed(load("kms_put_key_policy.json"), keyId=stack.settings.key_arn)
    outcome = deliver(stack, event)
    assert outcome.kind == "key-policy-replaced"
    assert outcome.manual_steps[0].startswith(
        f"aws kms put-key-policy --key-id {stack.settings.key_arn} --policy-name default"
    )


def test_a_failed_call_is_alerted_and_recorded_but_changes_nothing_and_freezes_nothing(stack: Stack) -> None:
    # Given mallory's attempt to loosen the block failed (the setting is as before)
    s3 = boto3.client("s3")
    parameters = {"bucketName": DATA_BUCKET, "PublicAccessBlockConfiguration": ALL_ON | {"BlockPublicPolicy": False}}
    event = intruder_call(
        "PutBucketPublicAccessBlock", S3, parameters, errorCode="AccessDenied", errorMessage="Access Denied"
    )
    # When the event arrives
    outcome = deliver(stack, event)
    # Then an attempt is recorded and alerted, nothing is undone and releases are not frozen
    assert (outcome.kind, outcome.severity, outcome.remediated, outcome.frozen) == (
        "public-access-block-loosened-attempt",
        "LOW",
        [],
        False,
    )
    assert not is_frozen(stack.settings.state_table_name)
    assert s3.get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"] == ALL_ON
    alert = only_alert(stack)
    assert "which failed (AccessDenied)" in alert["Message"]
    assert "Releases: not frozen by this finding (the call failed)." in alert["Message"]


def test_the_documented_failed_update_trail_is_an_attempt_on_a_trail_of_that_name() -> None:
    with deployed_stack(trail_arn="arn:aws:cloudtrail:us-east-1:123456789012:trail/myTrail2") as stack:
        outcome = deliver(stack, aimed(load("cloudtrail_update_trail_failed.json")))
        assert (outcome.kind, outcome.frozen) == ("trail-updated-attempt", False)


def test_the_stacks_own_roles_and_its_deployments_cause_no_finding(stack: Stack) -> None:
    own = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    own["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::123456789012:assumed-role/{STACK_ROLES[1]}/responder",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::123456789012:role/conveyor/dev/{STACK_ROLES[1]}"}
        },
    }
    deployment = intruder_call(
        "PutBucketPolicy", S3, {"bucketName": DATA_BUCKET}, sourceIPAddress="cloudformation.amazonaws.com"
    )
    assert [deliver(stack, event).reason for event in (own, deployment)] == ["stack_role", "deployment"]
    assert stack.alerts() == []
    assert not is_frozen(stack.settings.state_table_name)


def test_a_role_under_a_deeper_path_is_not_the_stacks(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/impostor/s",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/conveyor/dev/x/impostor"}
        },
    }
    assert deliver(stack, event).status == "responded"


def test_an_insights_event_on_a_stack_service_is_alerted_without_freezing(stack: Stack) -> None:
    event = aimed(load("insight_api_call_rate_start.json"))
    event["detail"]["insightDetails"]["eventSource"] = "kms.amazonaws.com"
    outcome = deliver(stack, event)
    assert (outcome.kind, outcome.severity, outcome.frozen) == ("insight", "MEDIUM", False)
    alert = only_alert(stack)
    assert "arn:aws:sts::012345678901:assumed-role/CodeDeployRole1" in alert["Message"]
    assert "not frozen by this finding (an Insights event is a reason to look, not tampering)" in alert["Message"]


def test_a_remedy_that_fails_leaves_its_call_for_a_human(stack: Stack) -> None:
    # Given CloudTrail refuses the responder's StartLogging
    with Stubber(aws.client("cloudtrail")) as cloudtrail:
        cloudtrail.add_client_error("start_logging", "AccessDeniedException", "not allowed")
        outcome = deliver(stack, intruder_call("StopLogging", "cloudtrail.amazonaws.com", {"name": TRAIL_ARN}))
    assert outcome.remediated == []
    assert outcome.manual_steps[0].startswith(f"aws cloudtrail start-logging --name {TRAIL_ARN} --region us-east-1")
    assert "the responder failed" in outcome.manual_steps[0]


def test_security_hub_gets_one_finding_in_asff_however_often_the_event_comes() -> None:
    with deployed_stack(security_hub="enabled") as stack:
        event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
        for _ in range(3):
            deliver(stack, event)
        findings = boto3.client("securityhub").get_findings()["Findings"]
        assert len(findings) == 1
        finding = findings[0]
        assert finding["Id"] == f"conveyor/dev/{event['detail']['eventID']}"
        assert finding["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        assert (finding["SchemaVersion"], finding["AwsAccountId"], finding["Severity"]) == (
            "2018-10-08",
            "123456789012",
            {"Label": "HIGH"},
        )
        assert finding["Resources"][0]["Id"] == f"arn:aws:s3:::{DATA_BUCKET}"
        assert finding["Types"] == ["TTPs/Defense Evasion/public-access-block-deleted"]


def test_a_security_hub_that_refuses_the_finding_does_not_hold_back_the_alert() -> None:
    with deployed_stack(security_hub="enabled") as stack:
        event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
        with Stubber(aws.client("securityhub")) as hub:
            hub.add_client_error("batch_import_findings", "InvalidAccessException", "not subscribed")
            outcome = deliver(stack, event)
        assert (outcome.status, outcome.alerted, outcome.imported) == ("responded", True, False)
        assert len(stack.alerts()) == 1


def test_a_role_someone_else_put_under_the_stacks_path_is_not_the_stack(stack: Stack) -> None:
    # Given a role the stack does not name, created under its IAM path by someone allowed iam:CreateRole
    impostor = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    impostor["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/lookalike/session",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/conveyor/dev/lookalike"}
        },
    }
    # When it weakens the data bucket, then it is a finding like any intruder's call
    outcome = deliver(stack, impostor)
    assert (outcome.kind, outcome.frozen) == ("public-access-block-deleted", True)


def test_without_a_fleet_no_deployment_is_the_stacks_to_guard() -> None:
    # EdgeThingGroup empty: the stack deploys to no group, so a deployment anywhere is someone else's
    event = intruder_call(
        "CreateDeployment",
        "greengrass.amazonaws.com",
        {"targetArn": THING_GROUP_ARN, "deploymentName": "theirs", "components": {}},
        responseElements={"deploymentId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"},
    )
    with deployed_stack(thing_group_arn="") as stack:
        outcome = deliver(stack, event)
        assert outcome.reason == "not_stack_resource"
        assert stack.alerts() == []
        assert not is_frozen(stack.settings.state_table_name)
