"""Release records: an approval starts one release, however often its event is delivered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.state.releases import (
    Claim,
    ReleaseStatus,
    claim_release,
    complete_release,
    get_release,
    refuse_release,
    withdraw_release,
)
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=2)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/3"


@pytest.fixture
def table() -> Iterator[str]:
    """The state table, built from template.yaml's StateTable."""
    with mock_aws():
        yield create_state_table()
    aws.client.cache_clear()


def claim(table: str, event_id: str = "event-1", now: datetime = NOW) -> Claim:
    return claim_release(table, version=3, package_arn=ARN, event_id=event_id, now=now, timeout=TIMEOUT)


def refuse(table: str, event_id: str = "event-1") -> bool:
    return refuse_release(table, version=3, package_arn=ARN, event_id=event_id, reason="frozen", now=NOW)


def test_the_first_claim_wins_and_a_duplicate_of_its_event_does_not(table: str) -> None:
    assert claim(table) == Claim.CLAIMED
    assert claim(table) == Claim.BUSY
    complete_release(table, 3, executions=["edge", "canary"], now=NOW)
    # Even once it started, and even for another approval event of the same package
    assert claim(table, event_id="event-2", now=NOW + timedelta(days=1)) == Claim.STARTED
    record = get_release(table, 3)
    assert record is not None
    assert (record.status, record.executions, record.started_at) == (ReleaseStatus.STARTED, ["edge", "canary"], NOW)


def test_a_claim_left_by_a_crashed_attempt_is_taken_over_after_the_timeout(table: str) -> None:
    assert claim(table) == Claim.CLAIMED
    assert claim(table, now=NOW + TIMEOUT - timedelta(seconds=1)) == Claim.BUSY
    assert claim(table, now=NOW + TIMEOUT + timedelta(seconds=1)) == Claim.CLAIMED


def test_a_refused_approval_is_recorded_once_and_a_later_approval_may_start(table: str) -> None:
    assert refuse(table)
    # The same event again changes nothing: no second refusal, no start
    assert not refuse(table)
    assert claim(table) == Claim.REFUSED
    # A new approval (after the freeze was lifted) starts the release
    assert claim(table, event_id="event-2") == Claim.CLAIMED
    record = get_release(table, 3)
    assert record is not None
    assert (record.status, record.refused_reason) == (ReleaseStatus.STARTING, None)


def test_a_refusal_never_overwrites_a_release_that_started(table: str) -> None:
    assert claim(table) == Claim.CLAIMED
    assert not refuse(table, event_id="event-2")
    record = get_release(table, 3)
    assert record is not None
    assert record.status == ReleaseStatus.STARTING


def test_a_started_release_is_withdrawn_once(table: str) -> None:
    assert withdraw_release(table, 3, now=NOW) is None  # never released
    claim(table)
    complete_release(table, 3, executions=["edge", "canary"], now=NOW)
    withdrawn = withdraw_release(table, 3, now=NOW)
    assert withdrawn is not None
    assert withdrawn.withdrawn_at == NOW
    assert withdraw_release(table, 3, now=NOW) is None


def test_a_refused_release_is_not_withdrawn(table: str) -> None:
    refuse(table)
    assert withdraw_release(table, 3, now=NOW) is None
