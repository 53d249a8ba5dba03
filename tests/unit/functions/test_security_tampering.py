"""Which CloudTrail events are tampering with the stack, decided without touching AWS.

Each test classifies one event for the stack of ``responder_stack`` (account 123456789012,
us-east-1 unless a test moves it) and reads the decision: the finding a human would be told
about, or the reason the event is ignored.
"""

from __future__ import annotations

from typing import Any

import pytest
from stack_facts import ResponderSettings
from tampering import Finding, classify
from trail_events import Unparsed, parse
from watched_calls import Ignored

from tests.helpers import bad_event, bad_events
from tests.unit.functions.responder_stack import (
    DATA_BUCKET,
    MALLORY,
    STACK_ROLES,
    TRAIL_ARN,
    aimed,
    intruder_call,
    load,
    settings_for,
)

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
S3 = "s3.amazonaws.com"
IAM = "iam.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
STACK_ROLE_ARN = f"arn:aws:iam::123456789012:role/conveyor/dev/{STACK_ROLES[1]}"
DELETED_BLOCK = ("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
# The corpus's events that parse: the decision to ignore them is classify's.
PARSED_CORPUS = [case for case in bad_events() if not isinstance(parse(bad_event(case.values[0]["file"])), Unparsed)]


def verdict(event: dict[str, Any], settings: ResponderSettings | None = None) -> Finding | Ignored:
    parsed = parse(event)
    assert not isinstance(parsed, Unparsed), parsed
    return classify(parsed, settings or settings_for(KEY_ARN, TOPIC))


def finding(event: dict[str, Any], settings: ResponderSettings | None = None) -> Finding:
    result = verdict(event, settings)
    assert isinstance(result, Finding), result
    return result


def reason(event: dict[str, Any], settings: ResponderSettings | None = None) -> str:
    result = verdict(event, settings)
    assert isinstance(result, Ignored), result
    return result.reason


def called_by(identity: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """The intruder's deletion of the data bucket's public access block, made by ``identity``."""
    return intruder_call(*DELETED_BLOCK, userIdentity=identity, **detail)


def assumed(issuer_arn: str, *, type: str = "AssumedRole") -> dict[str, Any]:
    return {
        "type": type,
        "arn": "arn:aws:sts::123456789012:assumed-role/someone/session",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer_arn}},
    }


@pytest.mark.parametrize("case", PARSED_CORPUS)
def test_each_parsed_event_of_the_bad_input_corpus_is_ignored_with_its_reason(case: dict[str, Any]) -> None:
    result = verdict(bad_event(case["file"]))
    assert isinstance(result, Ignored), result
    assert (result.reason, bool(result.detail)) == (case["expected"]["reason"], True)


@pytest.mark.parametrize(
    ("identity", "actor_type", "actor_arn", "description"),
    [
        ({"type": "IAMUser", "arn": MALLORY}, "IAMUser", MALLORY, f"IAMUser {MALLORY}"),
        (
            assumed("arn:aws:iam::123456789012:role/admin"),
            "AssumedRole",
            "arn:aws:sts::123456789012:assumed-role/someone/session",
            "AssumedRole arn:aws:sts::123456789012:assumed-role/someone/session"
            " (role arn:aws:iam::123456789012:role/admin)",
        ),
        (
            {"type": "AWSService", "invokedBy": "ec2.amazonaws.com", "principalId": "AIDAX"},
            "AWSService",
            "ec2.amazonaws.com",
            "AWSService ec2.amazonaws.com",
        ),
        ({"type": "Root", "principalId": "123456789012"}, "Root", "123456789012", "Root 123456789012"),
        ({}, "Unknown", "unknown", "Unknown unknown"),
    ],
    ids=["user", "assumed-role", "service", "principal-id-only", "nameless"],
)
def test_the_finding_names_the_caller_by_the_most_precise_name_the_record_gives(
    identity: dict[str, Any], actor_type: str, actor_arn: str, description: str
) -> None:
    # Given the deletion of the data bucket's public access block by a caller named this way
    # When it is classified
    actor = finding(called_by(identity)).actor
    # Then the finding says who did it as precisely as the record allows
    assert (actor.type, actor.arn, actor.description) == (actor_type, actor_arn, description)


def test_the_finding_keeps_where_the_call_came_from() -> None:
    actor = finding(intruder_call(*DELETED_BLOCK)).actor
    assert (actor.account_id, actor.source_ip_address, actor.user_agent, actor.issuer_arn) == (
        "123456789012",
        "203.0.113.7",
        "aws-cli/2.22.0 md/command#s3api",
        None,
    )


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (assumed(STACK_ROLE_ARN), "stack_role"),
        (assumed(STACK_ROLE_ARN, type="FederatedUser"), "finding"),
        ({"type": "AssumedRole", "arn": f"arn:aws:sts::123456789012:assumed-role/{STACK_ROLES[1]}/s"}, "finding"),
        (assumed(f"arn:aws:iam::123456789012:role/other/{STACK_ROLES[1]}"), "finding"),
        (assumed(f"arn:aws:iam::999988887777:role/conveyor/dev/{STACK_ROLES[1]}"), "finding"),
        (assumed("arn:aws:iam::123456789012:role/conveyor/dev/lookalike"), "finding"),
    ],
    ids=[
        "stack-role",
        "not-an-assumed-role",
        "no-session-issuer",
        "stack-role-name-under-another-path",
        "stack-path-in-another-account",
        "unnamed-role-under-the-stack-path",
    ],
)
def test_only_a_role_the_stack_names_under_its_path_is_the_stack_at_work(
    identity: dict[str, Any], expected: str
) -> None:
    result = verdict(called_by(identity))
    assert (result.reason if isinstance(result, Ignored) else "finding") == expected


@pytest.mark.parametrize(
    "detail",
    [{"sourceIPAddress": "cloudformation.amazonaws.com"}, {"invokedBy": "cloudformation.amazonaws.com"}],
    ids=["source-ip", "invoked-by"],
)
def test_a_call_cloudformation_makes_is_a_deployment(detail: dict[str, Any]) -> None:
    identity = {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/deployer/cfn"}
    if "invokedBy" in detail:
        identity |= detail
        detail = {}
    assert reason(called_by(identity, **detail)) == "deployment"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (intruder_call(*DELETED_BLOCK, awsRegion="eu-west-1"), "finding"),
        (intruder_call(*DELETED_BLOCK), "foreign_region"),
        (
            intruder_call("PutRolePolicy", IAM, {"roleName": STACK_ROLES[0], "policyName": "backdoor"}),
            "finding",
        ),
        (
            intruder_call("StopLogging", CLOUDTRAIL, {"name": TRAIL_ARN}, awsRegion="us-west-2"),
            "foreign_region",
        ),
    ],
    ids=["own-region", "us-east-1-for-a-regional-service", "us-east-1-for-iam", "a-third-region"],
)
def test_a_stack_outside_us_east_1_sees_its_own_region_and_global_services_in_us_east_1(
    event: dict[str, Any], expected: str
) -> None:
    # Given the stack deployed in eu-west-1
    settings = settings_for(KEY_ARN.replace("us-east-1", "eu-west-1"), TOPIC)
    # When a call logged in a Region is classified
    result = verdict(event, settings)
    # Then only its Region's calls and the global services' calls logged in us-east-1 count
    assert (result.reason if isinstance(result, Ignored) else "finding") == expected


@pytest.mark.parametrize(
    ("envelope", "recipient", "expected"),
    [
        ("123456789012", None, "finding"),
        (None, "123456789012", "finding"),
        (None, "999988887777", "foreign_account"),
        ("999988887777", None, "foreign_account"),
    ],
    ids=["envelope-only", "record-only", "record-foreign", "envelope-foreign"],
)
def test_the_account_is_taken_from_whichever_of_envelope_and_record_names_it(
    envelope: str | None, recipient: str | None, expected: str
) -> None:
    event = intruder_call(*DELETED_BLOCK, recipientAccountId=recipient)
    event["account"] = envelope
    result = verdict(event)
    assert (result.reason if isinstance(result, Ignored) else "finding") == expected


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"readOnly": None, "eventType": None}, "finding"),
        ({"readOnly": False, "eventType": "AwsApiCall"}, "finding"),
        ({"readOnly": True}, "read_only"),
        ({"eventType": "AwsConsoleAction"}, "not_an_api_call"),
    ],
    ids=["fields-absent", "write-api-call", "read-only", "console-action"],
)
def test_only_a_write_api_call_can_be_tampering(detail: dict[str, Any], expected: str) -> None:
    result = verdict(intruder_call(*DELETED_BLOCK, **detail))
    assert (result.reason if isinstance(result, Ignored) else "finding") == expected


def test_a_successful_call_is_a_finding_that_remediates_and_freezes() -> None:
    result = finding(intruder_call("StopLogging", CLOUDTRAIL, {"name": TRAIL_ARN}))
    assert (result.kind, result.title, result.severity) == (
        "trail-stopped",
        "Stopped logging of trail conveyor-dev",
        "CRITICAL",
    )
    assert result.what == "stopped logging of trail conveyor-dev"
    assert (result.succeeded, result.error_code, result.freezes) == (True, None, True)
    assert [remedy.value for remedy in result.remedies] == ["started the trail logging again"]
    assert (result.resource_type, result.resource_id, result.resource_name) == (
        "AwsCloudTrailTrail",
        TRAIL_ARN,
        "conveyor-dev",
    )
    assert (result.event_source, result.event_name, result.region) == (CLOUDTRAIL, "StopLogging", "us-east-1")
    assert result.finding_id == "5f1e2d3c-4b5a-4697-8877-665544332211"
    assert result.event_time.isoformat() == "2026-11-26T12:00:00+00:00"


@pytest.mark.parametrize(
    ("event_name", "kind", "title"),
    [
        ("StopLogging", "trail-stopped-attempt", "Attempt: Stopped logging of trail conveyor-dev"),
        ("DeleteTrail", "trail-deleted-attempt", "Attempt: Deleted trail conveyor-dev"),
    ],
)
def test_a_failed_call_is_an_attempt_that_remediates_nothing_and_freezes_nothing(
    event_name: str, kind: str, title: str
) -> None:
    # Given a call on the stack's trail that was refused
    event = intruder_call(event_name, CLOUDTRAIL, {"name": TRAIL_ARN}, errorCode="AccessDenied")
    # When it is classified
    result = finding(event)
    # Then it is a low attempt that names the error, with nothing to undo and no freeze
    assert (result.kind, result.title, result.severity) == (kind, title, "LOW")
    assert result.what.startswith("tried to ")
    assert result.what.endswith(" and failed with AccessDenied")
    assert (result.succeeded, result.error_code, result.freezes) == (False, "AccessDenied", False)
    assert (result.remedies, result.manual_steps) == ([], [])


def insight(**details: Any) -> dict[str, Any]:
    event = aimed(load("insight_api_call_rate_start.json"))
    event["detail"]["insightDetails"] |= {"eventSource": "kms.amazonaws.com"} | details
    return event


def test_an_insights_event_on_a_stack_service_is_a_finding_on_the_account_that_freezes_nothing() -> None:
    result = finding(insight())
    assert (result.kind, result.severity, result.succeeded, result.freezes) == ("insight", "MEDIUM", True, False)
    assert result.title == "Unusual ApiCallRateInsight on kms.amazonaws.com CompleteLifecycleAction"
    assert (result.resource_type, result.resource_id, result.resource_name) == (
        "AwsAccount",
        "AWS::::Account:123456789012",
        "123456789012",
    )
    assert (result.event_source, result.event_name, result.region) == (
        "kms.amazonaws.com",
        "CompleteLifecycleAction",
        "us-east-1",
    )
    assert (result.remedies, result.manual_steps) == ([], [])


@pytest.mark.parametrize(
    ("attributions", "named"),
    [
        (
            None,
            "arn:aws:sts::012345678901:assumed-role/CodeDeployRole1, "
            "arn:aws:sts::012345678901:assumed-role/CodeDeployRole2, "
            "arn:aws:sts::012345678901:assumed-role/CodeDeployRole3",
        ),
        ([{"attribute": "userAgent", "insight": [{"value": "codedeploy.amazonaws.com"}]}], "not attributed"),
        ([{"attribute": "userIdentityArn", "insight": None}], "not attributed"),
        (
            [{"attribute": "userIdentityArn", "insight": ["text", {"average": 1}, {"value": MALLORY}]}],
            MALLORY,
        ),
        ([], "not attributed"),
    ],
    ids=["documented", "other-attributes-only", "no-insight-list", "odd-entries-skipped", "none"],
)
def test_an_insights_finding_names_the_callers_it_attributes_the_calls_to(
    attributions: list[Any] | None, named: str
) -> None:
    event = insight()
    if attributions is not None:
        event["detail"]["insightDetails"]["insightContext"]["attributions"] = attributions
    actor = finding(event).actor
    assert (actor.type, actor.arn) == ("Insight", named)


def test_an_insights_event_without_context_is_not_attributed() -> None:
    event = insight()
    del event["detail"]["insightDetails"]["insightContext"]
    assert finding(event).actor.arn == "not attributed"
