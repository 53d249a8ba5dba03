"""The responder and its input: documented events, duplicates, crashed attempts and the bad-input corpus.

Documented events are classified with a stack named after the example's own resources, so the
published files are used as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from incident import CLAIM_TIMEOUT, FindingInProgressError, respond
from stack_facts import ResponderSettings
from tampering import classify
from trail_events import Unparsed, parse
from watched_calls import Ignored

from conveyor import aws
from conveyor.state.control import freeze_state, is_frozen
from conveyor.state.findings import FindingRecord, claim_finding, get_finding, record_step
from tests.helpers import bad_event, bad_events, load_app, load_event
from tests.unit.functions.responder_stack import (
    BAD_EVENTS,
    DATA_BUCKET,
    Stack,
    deployed_stack,
    intruder_call,
    load,
    settings_for,
)

NOW = datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)
S3 = "s3.amazonaws.com"
DOC_KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
CORPUS = bad_events()


@pytest.fixture
def stack() -> Iterator[Stack]:
    with deployed_stack() as deployed:
        yield deployed


def documented(file: str, region: str, account: str, **changes: Any) -> str:
    """The kind of finding, or the reason for ignoring, of a documented event, for a stack named after it."""
    settings = settings_for(f"arn:aws:kms:{region}:{account}:key/{DOC_KEY}", TOPIC, **changes)
    parsed = parse(load(file))
    if isinstance(parsed, Unparsed):
        return f"ignored: {parsed.reason}"
    verdict = classify(parsed, settings)
    return f"ignored: {verdict.reason}" if isinstance(verdict, Ignored) else verdict.kind


@pytest.mark.parametrize(
    ("file", "region", "account", "changes", "expected"),
    [
        ("kms_disable_key.json", "us-east-1", "111122223333", {}, "key-disabled"),
        ("kms_schedule_key_deletion.json", "us-east-1", "111122223333", {}, "key-deletion-scheduled"),
        ("kms_put_key_policy.json", "us-west-2", "111122223333", {}, "key-policy-replaced"),
        ("kms_disable_key.json", "us-east-1", "444455556666", {}, "ignored: foreign_account"),
        ("kms_disable_key.json", "eu-west-1", "111122223333", {}, "ignored: foreign_region"),
        (
            "cloudtrail_update_trail_failed.json",
            "us-east-2",
            "123456789012",
            {"trail_arn": "arn:aws:cloudtrail:us-east-2:123456789012:trail/myTrail2"},
            "trail-updated-attempt",
        ),
        ("cloudtrail_update_trail_failed.json", "us-east-2", "123456789012", {}, "ignored: not_stack_resource"),
        ("cloudtrail_start_logging.json", "us-west-2", "123456789012", {}, "ignored: unwatched_call"),
        ("iam_create_user.json", "us-east-2", "123456789012", {}, "ignored: malformed"),
        ("ec2_stop_instances.json", "us-east-2", "123456789012", {}, "ignored: malformed"),
        ("s3_put_bucket_acl.json", "us-west-2", "111122223333", {}, "ignored: missing_field"),
        ("s3_get_bucket_versioning.json", "us-west-2", "111122223333", {}, "ignored: unwatched_call"),
        ("s3_put_object_eventbridge.json", "us-east-2", "123456789012", {}, "ignored: unwatched_call"),
        (
            "s3_put_bucket_public_access_block_captured.json",
            "us-west-2",
            "111111111111",
            {"data_bucket_name": "austin-panther"},
            "public-access-block-loosened",
        ),
        (
            "s3_put_bucket_public_access_block_captured.json",
            "us-west-2",
            "111111111111",
            {},
            "ignored: not_stack_resource",
        ),
        ("insight_api_call_rate_start.json", "us-east-1", "012345678901", {}, "ignored: foreign_service"),
    ],
)
def test_documented_events_are_classified_as_their_readme_says(
    file: str, region: str, account: str, changes: dict[str, Any], expected: str
) -> None:
    assert documented(file, region, account, **changes) == expected


def test_the_same_event_delivered_many_times_gives_one_finding_one_remediation_one_alert(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a count of the responder's remediation calls
    s3 = aws.client("s3")
    calls: list[str] = []
    put = s3.put_public_access_block
    monkeypatch.setattr(
        s3, "put_public_access_block", lambda **request: calls.append(request["Bucket"]) or put(**request)
    )
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    # When EventBridge delivers the event five times
    statuses = [respond(stack.settings, event, now=NOW + timedelta(seconds=n)).status for n in range(5)]
    # Then one response, one remediation, one alert and one finding holding the freeze
    assert statuses == ["responded"] + ["duplicate"] * 4
    assert calls == [DATA_BUCKET]
    assert len(stack.alerts()) == 1
    assert freeze_state(stack.settings.state_table_name).finding_ids == [event["detail"]["eventID"]]


def crashed_claim(stack: Stack, finding_id: str, claimed_at: datetime, **steps: Any) -> None:
    """A claim left IN_PROGRESS by an attempt that crashed after recording ``steps``."""
    record = FindingRecord(finding_id=finding_id, status="IN_PROGRESS", claim_token="crashed", claimed_at=claimed_at)
    claim_finding(stack.settings.state_table_name, record, now=claimed_at, timeout=CLAIM_TIMEOUT)
    if steps:
        record_step(stack.settings.state_table_name, finding_id, "crashed", **steps)


def test_a_claim_left_by_a_crashed_attempt_is_taken_over_after_the_timeout(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    finding_id = event["detail"]["eventID"]
    crashed_claim(stack, finding_id, NOW - CLAIM_TIMEOUT - timedelta(seconds=1))
    outcome = respond(stack.settings, event, now=NOW)
    assert outcome.status == "responded"
    record = get_finding(stack.settings.state_table_name, finding_id)
    assert record is not None
    assert (record.status, record.attempts) == ("DONE", 2)
    assert len(stack.alerts()) == 1


def test_a_taken_over_claim_skips_the_steps_the_crashed_attempt_finished(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    finding_id = event["detail"]["eventID"]
    crashed_claim(
        stack,
        finding_id,
        NOW - CLAIM_TIMEOUT - timedelta(seconds=1),
        remediated=["restored the public access block (all four settings on)"],
        manual_steps=[],
        alerted_at=(NOW - timedelta(minutes=3)).isoformat(),
    )
    outcome = respond(stack.settings, event, now=NOW)
    assert (outcome.status, outcome.remediated) == (
        "responded",
        ["restored the public access block (all four settings on)"],
    )
    assert stack.alerts() == []
    assert is_frozen(stack.settings.state_table_name)


def test_a_claim_still_in_progress_makes_the_delivery_retry_later_and_do_nothing(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    crashed_claim(stack, event["detail"]["eventID"], NOW - timedelta(seconds=10))
    with pytest.raises(FindingInProgressError, match="being handled by another attempt"):
        respond(stack.settings, event, now=NOW)
    assert stack.alerts() == []
    assert not is_frozen(stack.settings.state_table_name)


def test_an_alert_that_fails_releases_the_claim_so_the_retry_takes_over_at_once(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})
    sns = boto3.client("sns")
    sns.delete_topic(TopicArn=stack.settings.notification_topic_arn)
    with pytest.raises(Exception, match="NotFound"):
        respond(stack.settings, event, now=NOW)
    sns.create_topic(Name="conveyor-dev-notifications")
    queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=stack.alerts_queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=stack.settings.notification_topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    outcome = respond(stack.settings, event, now=NOW + timedelta(seconds=1))
    assert (outcome.status, outcome.alerted) == ("responded", True)
    assert len(stack.alerts()) == 1


@pytest.mark.parametrize("case", CORPUS)
def test_each_bad_or_unexpected_event_is_ignored_with_its_reason_and_changes_nothing(
    stack: Stack, case: dict[str, Any]
) -> None:
    outcome = respond(stack.settings, bad_event(case["file"]), now=NOW)
    assert (outcome.status, outcome.reason) == ("ignored", case["expected"]["reason"]), outcome.detail
    assert outcome.detail
    assert stack.alerts() == []
    assert not is_frozen(stack.settings.state_table_name)
    items = boto3.client("dynamodb").scan(TableName=stack.settings.state_table_name)["Items"]
    assert items == []


def test_the_corpus_is_large_and_every_file_has_a_case() -> None:
    files = {path.name for path in BAD_EVENTS.glob("*.json")} - {"cases.json"}
    assert len(CORPUS) >= 25
    assert files == {param.values[0]["file"] for param in CORPUS}


def environment(settings: ResponderSettings) -> dict[str, str]:
    values = settings.model_dump(exclude_none=True)
    values["stack_role_names"] = ",".join(settings.stack_role_names)
    return {name.upper(): str(value) for name, value in values.items()} | {
        "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
        "POWERTOOLS_SERVICE_NAME": "security_responder",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


class Context:
    function_name = "responder"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:responder"
    aws_request_id = "request-1"


def test_the_handler_logs_and_counts_each_ignored_event_by_reason(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = load_app("security/responder", environment(stack.settings), monkeypatch)
    reply = app.handler(load("deployment.json", BAD_EVENTS), Context())
    assert (reply["status"], reply["reason"]) == ("ignored", "deployment")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("message") == "event ignored"]
    assert [line["reason"] for line in logged] == ["deployment"]
    metrics = [line for line in lines if "_aws" in line and "EventsIgnored" in line]
    assert [(line["EventsIgnored"], line["reason"]) for line in metrics] == [([1.0], "deployment")]


def test_the_handler_reports_a_finding(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_app("security/responder", environment(stack.settings), monkeypatch)
    # The sample event as the bench's stack sees it, aimed at this stack's data bucket
    sample = load_event("security/responder.json")
    sample["detail"]["requestParameters"]["bucketName"] = stack.settings.data_bucket_name
    reply = app.handler(sample, Context())
    assert (reply["status"], reply["kind"], reply["frozen"]) == ("responded", "public-access-block-deleted", True)
