"""Remedies by hand, and claims that another attempt took over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from remedies import Remedy, bucket_policy, command

from conveyor.state.findings import ClaimLostError, FindingRecord, claim_finding, record_step
from tests.unit.functions.responder_stack import DATA_BUCKET, LOG_BUCKET, TRAIL_ARN, deployed_stack, settings_for

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("remedy", list(Remedy))
def test_every_remedy_has_the_cli_call_that_applies_it_by_hand(remedy: Remedy) -> None:
    settings = settings_for(KEY_ARN, TOPIC)
    call = command(remedy, settings, DATA_BUCKET)
    assert call.startswith("aws ")
    assert call.count("--region us-east-1") == call.count("aws ")


def test_the_restored_log_bucket_policy_grants_the_stacks_own_trail_even_under_an_organisation_trail() -> None:
    # template.yaml grants its own trail in any case, so the restored policy must too
    own = settings_for(KEY_ARN, TOPIC)
    organisation = settings_for(KEY_ARN, TOPIC, trail_arn="arn:aws:cloudtrail:us-east-1:999988887777:trail/org")
    assert (own.trail_is_the_stacks, organisation.trail_is_the_stacks) == (True, False)
    for settings in (own, organisation):
        policy = bucket_policy(settings, LOG_BUCKET)
        assert [statement["Sid"] for statement in policy["Statement"]] == [
            "DenyInsecureTransport",
            "S3ServerAccessLogDelivery",
            "AWSCloudTrailAclCheck",
            "AWSCloudTrailWrite",
        ]
        assert TRAIL_ARN in str(policy)
        assert "999988887777" not in str(policy)


def test_an_attempt_whose_claim_was_taken_over_cannot_record_its_steps() -> None:
    with deployed_stack() as stack:
        table = stack.settings.state_table_name
        record = FindingRecord(finding_id="f-1", status="IN_PROGRESS", claim_token="mine", claimed_at=NOW)
        claim_finding(table, record, now=NOW, timeout=timedelta(minutes=2))
        with pytest.raises(ClaimLostError, match="taken over"):
            record_step(table, "f-1", "someone-else", alerted_at=NOW.isoformat())
