"""Unfreezing: each finding that froze releases is acknowledged by an operator; the last lifts the freeze."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from incident import respond
from pydantic import ValidationError
from thaw import UnfreezeRequest, UnfreezeSettings, unfreeze

from conveyor.state.control import FindingNotFreezingError, NotFrozenError, freeze_state, is_frozen, set_frozen
from conveyor.state.findings import get_finding
from tests.helpers import load_event
from tests.unit.functions.responder_stack import DATA_BUCKET, TRAIL_ARN, Stack, deployed_stack, intruder_call

NOW = datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
FIRST = "11111111-1111-4111-8111-111111111111"
SECOND = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def stack() -> Iterator[Stack]:
    with deployed_stack() as deployed:
        yield deployed


def settings_of(stack: Stack) -> UnfreezeSettings:
    return UnfreezeSettings.model_validate(stack.settings.model_dump(include={*UnfreezeSettings.model_fields}))


def frozen_by(stack: Stack, *finding_ids: str) -> None:
    for finding_id in finding_ids:
        event = intruder_call("StopLogging", "cloudtrail.amazonaws.com", {"name": TRAIL_ARN}, event_id=finding_id)
        respond(stack.settings, event, now=NOW)
    stack.alerts()


def request(finding_id: str) -> UnfreezeRequest:
    return UnfreezeRequest(
        finding_id=finding_id, reason="mallory's keys are revoked; logging is back", lifted_by="alice"
    )


def test_acknowledging_the_only_finding_lifts_the_freeze_and_records_who_when_and_why(stack: Stack) -> None:
    # Given releases frozen by one finding
    frozen_by(stack, FIRST)
    # When alice acknowledges it
    report = unfreeze(settings_of(stack), request(FIRST), now=LATER)
    # Then releases are no longer frozen, and the freeze says who lifted it, when and why
    assert (report.frozen, report.still_frozen_by) == (False, [])
    freeze = freeze_state(stack.settings.state_table_name)
    assert (freeze.frozen, freeze.lifted_by, freeze.lifted_at, freeze.lift_reason) == (
        False,
        "alice",
        LATER,
        "mallory's keys are revoked; logging is back",
    )
    # And the freeze still names the finding that froze it, and the finding who acknowledged it
    assert freeze.finding_id == FIRST
    finding = get_finding(stack.settings.state_table_name, FIRST)
    assert finding is not None
    assert (finding.acknowledged_by, finding.acknowledged_at) == ("alice", LATER)
    # And the topic says so
    (alert,) = stack.alerts()
    assert alert["Subject"] == "conveyor dev: releases unfrozen"
    assert "alice acknowledged security finding" in alert["Message"]


def test_with_two_findings_releases_stay_frozen_until_both_are_acknowledged(stack: Stack) -> None:
    frozen_by(stack, FIRST, SECOND)
    first = unfreeze(settings_of(stack), request(FIRST), now=LATER)
    assert (first.frozen, first.still_frozen_by) == (True, [SECOND])
    assert is_frozen(stack.settings.state_table_name)
    assert "Releases stay frozen: findings not yet acknowledged" in stack.alerts()[0]["Message"]
    second = unfreeze(settings_of(stack), request(SECOND), now=LATER)
    assert (second.frozen, second.still_frozen_by) == (False, [])
    assert not is_frozen(stack.settings.state_table_name)


def test_a_finding_that_freezes_after_a_lift_freezes_again_and_clears_the_lift(stack: Stack) -> None:
    frozen_by(stack, FIRST)
    unfreeze(settings_of(stack), request(FIRST), now=LATER)
    frozen_by(stack, SECOND)
    freeze = freeze_state(stack.settings.state_table_name)
    assert (freeze.frozen, freeze.finding_ids, freeze.lifted_by) == (True, [SECOND], None)


def test_unfreezing_what_is_not_frozen_is_refused(stack: Stack) -> None:
    with pytest.raises(NotFrozenError, match="releases are not frozen"):
        unfreeze(settings_of(stack), request(FIRST), now=LATER)
    assert stack.alerts() == []


def test_naming_a_finding_that_does_not_hold_the_freeze_is_refused_and_changes_nothing(stack: Stack) -> None:
    frozen_by(stack, FIRST)
    with pytest.raises(FindingNotFreezingError, match=f"the findings holding it: {FIRST}"):
        unfreeze(settings_of(stack), request(SECOND), now=LATER)
    assert freeze_state(stack.settings.state_table_name).finding_ids == [FIRST]
    assert stack.alerts() == []


def test_a_freeze_set_by_hand_is_not_lifted_by_a_finding_id(stack: Stack) -> None:
    set_frozen(stack.settings.state_table_name, frozen=True, reason="maintenance", now=NOW)
    with pytest.raises(FindingNotFreezingError, match="frozen by hand"):
        unfreeze(settings_of(stack), request(FIRST), now=LATER)
    set_frozen(stack.settings.state_table_name, frozen=False, reason="done", now=LATER, principal="bob")
    freeze = freeze_state(stack.settings.state_table_name)
    assert (freeze.frozen, freeze.lifted_by, freeze.lift_reason) == (False, "bob", "done")


def test_the_sample_request_parses_and_a_request_without_a_reason_is_refused() -> None:
    sample = UnfreezeRequest.model_validate(load_event("security/unfreeze.json"))
    assert sample.lifted_by == "alice@example.com"
    with pytest.raises(ValidationError, match="reason"):
        UnfreezeRequest.model_validate({"finding_id": FIRST, "reason": "  ", "lifted_by": "alice"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        UnfreezeRequest.model_validate({"finding_id": FIRST, "reason": "x", "lifted_by": "a", "force": True})


def test_the_responders_bucket_finding_can_be_acknowledged_by_its_event_id(stack: Stack) -> None:
    event = intruder_call("DeleteBucketPublicAccessBlock", "s3.amazonaws.com", {"bucketName": DATA_BUCKET})
    respond(stack.settings, event, now=NOW)
    report = unfreeze(settings_of(stack), request(event["detail"]["eventID"]), now=LATER)
    assert report.frozen is False


def test_freezing_by_hand_keeps_the_findings_that_hold_the_freeze(stack: Stack) -> None:
    # Given releases frozen by a finding
    frozen_by(stack, FIRST)
    # When an operator freezes them by hand as well
    set_frozen(stack.settings.state_table_name, frozen=True, reason="maintenance", now=LATER)
    # Then the finding still holds the freeze and can be acknowledged
    assert freeze_state(stack.settings.state_table_name).finding_ids == [FIRST]
    assert unfreeze(settings_of(stack), request(FIRST), now=LATER).still_frozen_by == []
