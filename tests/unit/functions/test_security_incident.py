"""The response to one tampering event, step by step: the key first, then the claim, the remedies,
the freeze, the alert and Security Hub, each recorded on the finding so it is done once.

Each test builds the stack in moto, delivers an event, and reads back what a human would see: the
key's state, the freeze, the finding in the state table, the alerts and the Security Hub findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from incident import CLAIM_TIMEOUT, FindingInProgressError, respond

from conveyor import aws
from conveyor.state.control import is_frozen
from conveyor.state.findings import FindingRecord, claim_finding, get_finding, record_step
from tests.helpers import bad_event
from tests.unit.functions.responder_stack import (
    DATA_BUCKET,
    TRAIL_ARN,
    Stack,
    aimed,
    deployed_stack,
    intruder_call,
    load,
    settings_for,
)

NOW = datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)
S3 = "s3.amazonaws.com"
RESTORED_BLOCK = "restored the public access block (all four settings on)"


@pytest.fixture
def stack() -> Iterator[Stack]:
    with deployed_stack() as deployed:
        yield deployed


@pytest.fixture
def hub_stack() -> Iterator[Stack]:
    with deployed_stack(security_hub="enabled") as deployed:
        yield deployed


def deleted_block() -> dict[str, Any]:
    return intruder_call("DeleteBucketPublicAccessBlock", S3, {"bucketName": DATA_BUCKET})


def disabled_key(stack: Stack) -> dict[str, Any]:
    event = aimed(load("kms_disable_key.json"), keyId=stack.settings.key_id)
    event["detail"]["resources"] = [{"ARN": stack.settings.key_arn, "accountId": stack.settings.account_id}]
    return event


def only_alert(stack: Stack) -> dict[str, str]:
    alerts = stack.alerts()
    assert len(alerts) == 1, alerts
    return alerts[0]


def key_state(stack: Stack) -> str:
    state: str = boto3.client("kms").describe_key(KeyId=stack.settings.key_arn)["KeyMetadata"]["KeyState"]
    return state


def finding_record(stack: Stack, event: dict[str, Any]) -> FindingRecord:
    record = get_finding(stack.settings.state_table_name, event["detail"]["eventID"])
    assert record is not None
    return record


def crashed_claim(stack: Stack, event: dict[str, Any], **steps: Any) -> None:
    """A claim on ``event``'s finding left IN_PROGRESS, past the timeout, by an attempt that recorded ``steps``."""
    finding_id = event["detail"]["eventID"]
    claimed_at = NOW - timedelta(minutes=2, seconds=1)  # a claim is taken to have crashed after two minutes
    record = FindingRecord(finding_id=finding_id, status="IN_PROGRESS", claim_token="crashed", claimed_at=claimed_at)
    claim_finding(stack.settings.state_table_name, record, now=claimed_at, timeout=CLAIM_TIMEOUT)
    if steps:
        record_step(stack.settings.state_table_name, finding_id, "crashed", **steps)


@pytest.mark.parametrize("file", ["a_list.json", "read_only.json"], ids=["unparsed", "not-tampering"])
def test_an_ignored_event_is_answered_with_its_reason_and_nothing_done(file: str) -> None:
    # No AWS call is made for an event that is ignored, so the stack need not exist
    settings = settings_for("arn:aws:kms:us-east-1:123456789012:key/k", "arn:aws:sns:us-east-1:123456789012:alerts")
    outcome = respond(settings, bad_event(file), now=NOW)
    assert (outcome.status, bool(outcome.reason), bool(outcome.detail)) == ("ignored", True, True)
    assert (outcome.remediated, outcome.manual_steps) == ([], [])
    assert (outcome.frozen, outcome.imported, outcome.alerted) == (False, False, False)


def test_a_replayed_event_reports_that_it_did_nothing_again(stack: Stack) -> None:
    event = deleted_block()
    respond(stack.settings, event, now=NOW)
    outcome = respond(stack.settings, event, now=NOW + timedelta(seconds=1))
    assert (outcome.status, outcome.finding_id, outcome.kind) == (
        "duplicate",
        event["detail"]["eventID"],
        "public-access-block-deleted",
    )
    assert (outcome.remediated, outcome.frozen, outcome.imported, outcome.alerted) == ([], False, False, False)
    assert len(stack.alerts()) == 1


def test_a_taken_over_claim_reports_the_remedy_the_crashed_attempt_failed_and_does_not_retry_it(
    stack: Stack,
) -> None:
    # Given an attempt failed to restore the deleted block, recorded it as left to do by hand, then crashed
    s3 = boto3.client("s3")
    s3.delete_public_access_block(Bucket=DATA_BUCKET)
    event = deleted_block()
    left = f"aws s3api put-public-access-block --bucket {DATA_BUCKET}  # the responder failed: AccessDenied"
    crashed_claim(stack, event, remediated=[], manual_steps=[left])
    # When the event is delivered again
    outcome = respond(stack.settings, event, now=NOW)
    # Then the alert tells the human what the crashed attempt left, and the remedy is not tried again
    assert (outcome.remediated, outcome.manual_steps) == ([], [left])
    assert f"  - {left}" in only_alert(stack)["Message"]
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=DATA_BUCKET)


@pytest.mark.parametrize(
    ("unusable", "remediated"),
    [
        ("disable", ["enabled the key"]),
        ("schedule deletion", ["cancelled the key's scheduled deletion", "enabled the key"]),
    ],
)
def test_a_disabled_key_is_made_usable_whatever_state_it_was_left_in(
    stack: Stack, unusable: str, remediated: list[str]
) -> None:
    # Given mallory disabled the stack key, and perhaps scheduled its deletion after
    kms = boto3.client("kms")
    kms.disable_key(KeyId=stack.settings.key_id)
    if unusable == "schedule deletion":
        kms.schedule_key_deletion(KeyId=stack.settings.key_id, PendingWindowInDays=7)
    # When the DisableKey event arrives
    outcome = respond(stack.settings, disabled_key(stack), now=NOW)
    # Then the key is enabled, its deletion cancelled first if it was pending, each undone once
    assert key_state(stack) == "Enabled"
    assert outcome.remediated == remediated
    assert (outcome.kind, outcome.manual_steps) == ("key-disabled", [])


def test_the_key_is_enabled_before_the_claim_even_while_another_attempt_holds_the_finding(stack: Stack) -> None:
    # Given the stack key is disabled, and another attempt claimed the finding a moment ago
    boto3.client("kms").disable_key(KeyId=stack.settings.key_id)
    event = disabled_key(stack)
    record = FindingRecord(
        finding_id=event["detail"]["eventID"], status="IN_PROGRESS", claim_token="other", claimed_at=NOW
    )
    claim_finding(stack.settings.state_table_name, record, now=NOW, timeout=CLAIM_TIMEOUT)
    # When this delivery arrives, it must retry later
    with pytest.raises(FindingInProgressError):
        respond(stack.settings, event, now=NOW + timedelta(seconds=1))
    # Then the key the state table and the topic need is usable again already
    assert key_state(stack) == "Enabled"


def test_an_enabled_key_named_by_a_disable_key_event_is_enabled_by_the_remedies(stack: Stack) -> None:
    # Given someone re-enabled the key before the DisableKey event arrived
    outcome = respond(stack.settings, disabled_key(stack), now=NOW)
    assert (key_state(stack), outcome.remediated) == ("Enabled", ["enabled the key"])


def test_the_finding_records_each_step_it_completed(hub_stack: Stack) -> None:
    # Given mallory deleted the data bucket's public access block
    event = deleted_block()
    # When the event is answered, with Security Hub enabled
    outcome = respond(hub_stack.settings, event, now=NOW)
    # Then the finding holds what was undone, when releases were frozen, alerted, imported and completed
    record = finding_record(hub_stack, event)
    assert (record.status, record.remediated, record.manual_steps) == ("DONE", [RESTORED_BLOCK], [])
    assert (record.frozen_at, record.alerted_at, record.imported_at, record.completed_at) == (NOW, NOW, NOW, NOW)
    assert (outcome.frozen, outcome.alerted, outcome.imported) == (True, True, True)
    assert is_frozen(hub_stack.settings.state_table_name)


def test_a_failed_call_records_no_freeze(stack: Stack) -> None:
    event = intruder_call("StopLogging", "cloudtrail.amazonaws.com", {"name": TRAIL_ARN}, errorCode="AccessDenied")
    outcome = respond(stack.settings, event, now=NOW)
    record = finding_record(stack, event)
    assert (record.status, record.frozen_at, record.alerted_at) == ("DONE", None, NOW)
    assert (outcome.frozen, outcome.remediated) == (False, [])
    assert boto3.client("cloudtrail").get_trail_status(Name=TRAIL_ARN)["IsLogging"] is True


def test_without_security_hub_nothing_is_imported(stack: Stack) -> None:
    event = deleted_block()
    outcome = respond(stack.settings, event, now=NOW)
    assert (outcome.status, outcome.imported) == ("responded", False)
    assert finding_record(stack, event).imported_at is None
    assert boto3.client("securityhub").get_findings()["Findings"] == []


def test_a_finding_security_hub_reports_as_failed_is_logged_and_not_recorded_as_imported(
    hub_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given Security Hub answers the import with the finding among its failures
    event = deleted_block()
    refused = {"Id": "conveyor/dev/x", "ErrorCode": "InvalidInput", "ErrorMessage": "bad finding"}
    with Stubber(aws.client("securityhub")) as hub:
        hub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [refused]})
        # When the event is answered
        outcome = respond(hub_stack.settings, event, now=NOW)
    # Then the alert is out, the import is not recorded, and the refusal is in the log with the reason
    assert (outcome.status, outcome.alerted, outcome.imported) == ("responded", True, False)
    assert finding_record(hub_stack, event).imported_at is None
    [logged] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert (logged.message, logged.finding_id, logged.refused) == (
        "Security Hub refused the finding",
        event["detail"]["eventID"],
        [refused],
    )


def test_a_security_hub_error_is_logged_with_the_finding(hub_stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    event = deleted_block()
    with Stubber(aws.client("securityhub")) as hub:
        hub.add_client_error("batch_import_findings", "InvalidAccessException", "not subscribed")
        respond(hub_stack.settings, event, now=NOW)
    assert finding_record(hub_stack, event).imported_at is None
    [logged] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert (logged.message, logged.finding_id) == ("Security Hub import failed", event["detail"]["eventID"])
    assert "not subscribed" in logged.error


def test_a_taken_over_claim_does_not_freeze_again_what_the_crashed_attempt_froze(stack: Stack) -> None:
    # Given an attempt remediated and froze, then crashed; an operator has lifted the freeze since
    event = deleted_block()
    crashed_claim(stack, event, remediated=[RESTORED_BLOCK], manual_steps=[], frozen_at=NOW.isoformat())
    # When the event is delivered again
    outcome = respond(stack.settings, event, now=NOW)
    # Then releases stay unfrozen, and the alert the crashed attempt did not send goes out
    assert not is_frozen(stack.settings.state_table_name)
    assert (outcome.status, outcome.remediated) == ("responded", [RESTORED_BLOCK])
    assert len(stack.alerts()) == 1
    assert finding_record(stack, event).frozen_at == NOW


def test_a_taken_over_claim_does_not_import_again_what_the_crashed_attempt_imported(hub_stack: Stack) -> None:
    event = deleted_block()
    crashed_claim(
        hub_stack,
        event,
        remediated=[RESTORED_BLOCK],
        manual_steps=[],
        frozen_at=NOW.isoformat(),
        alerted_at=NOW.isoformat(),
        imported_at=NOW.isoformat(),
    )
    # A stub with no answers fails any call to Security Hub
    with Stubber(aws.client("securityhub")):
        outcome = respond(hub_stack.settings, event, now=NOW + timedelta(seconds=1))
    assert (outcome.status, outcome.imported) == ("responded", True)
    assert finding_record(hub_stack, event).status == "DONE"
    assert hub_stack.alerts() == []


def test_a_taken_over_claim_without_recorded_manual_steps_remediates_again(stack: Stack) -> None:
    # Given a crashed attempt recorded what it undid but not what is left to do
    event = deleted_block()
    boto3.client("s3").delete_public_access_block(Bucket=DATA_BUCKET)
    crashed_claim(stack, event, remediated=[])
    # When the event is delivered again, the remedies are applied and both are recorded
    outcome = respond(stack.settings, event, now=NOW)
    assert (outcome.remediated, outcome.manual_steps) == ([RESTORED_BLOCK], [])
    block = boto3.client("s3").get_public_access_block(Bucket=DATA_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    record = finding_record(stack, event)
    assert (record.remediated, record.manual_steps) == ([RESTORED_BLOCK], [])
