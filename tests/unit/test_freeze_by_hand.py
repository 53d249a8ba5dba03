"""A freeze set by hand is lifted by hand, but never past a security finding that holds it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.state.control import (
    FrozenByFindingsError,
    NotFrozenError,
    freeze_for_finding,
    freeze_state,
    lift_hand_freeze,
    set_frozen,
)
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
ALICE = "arn:aws:sts::123456789012:assumed-role/operators/alice"
FINDING = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def table() -> Iterator[str]:
    """The state table, built from template.yaml's StateTable."""
    with mock_aws():
        yield create_state_table()
    aws.client.cache_clear()


def test_lifting_a_freeze_by_hand_records_who_when_and_why(table: str) -> None:
    # Given releases frozen by hand
    set_frozen(table, frozen=True, reason="maintenance", now=NOW, principal=ALICE)
    # When alice lifts it
    freeze = lift_hand_freeze(table, lifted_by=ALICE, reason="maintenance done", now=LATER)
    # Then releases are not frozen, and the freeze says who lifted it, when and why
    assert (freeze.frozen, freeze.lifted_by, freeze.lifted_at, freeze.lift_reason) == (
        False,
        ALICE,
        LATER,
        "maintenance done",
    )
    # And it keeps why it was frozen
    assert (freeze.reason, freeze.principal) == ("maintenance", ALICE)


def test_a_finding_holding_the_freeze_keeps_it_and_is_named(table: str) -> None:
    # Given a finding froze releases, and an operator froze them by hand as well
    freeze_for_finding(table, finding_id=FINDING, reason="Suspended versioning", principal="mallory", now=NOW)
    set_frozen(table, frozen=True, reason="maintenance", now=NOW, principal=ALICE)
    # When the operator lifts the freeze by hand
    with pytest.raises(FrozenByFindingsError, match=f"findings hold the freeze: {FINDING}; acknowledge each"):
        lift_hand_freeze(table, lifted_by=ALICE, reason="maintenance done", now=LATER)
    # Then releases stay frozen, held by the finding
    freeze = freeze_state(table)
    assert (freeze.frozen, freeze.finding_ids, freeze.lifted_by) == (True, [FINDING], None)


@pytest.mark.parametrize("frozen_before", [False, None], ids=["lifted", "never frozen"])
def test_lifting_what_is_not_frozen_is_refused(table: str, frozen_before: bool | None) -> None:
    if frozen_before is not None:
        set_frozen(table, frozen=frozen_before, reason="done", now=NOW, principal=ALICE)
    with pytest.raises(NotFrozenError, match="releases are not frozen"):
        lift_hand_freeze(table, lifted_by=ALICE, reason="again", now=LATER)
    assert not freeze_state(table).frozen
