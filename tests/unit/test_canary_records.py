"""Reading canary records as the operator's status does: the newest canary and the endpoint's holder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.state.canary import (
    CanaryRecord,
    CanaryState,
    endpoint_holder,
    latest_canary,
    lock_endpoint,
    start_canary,
    unlock_endpoint,
)
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def table() -> Iterator[str]:
    """The state table, built from template.yaml's StateTable."""
    with mock_aws():
        yield create_state_table()
    aws.client.cache_clear()


def canary(version: int) -> CanaryRecord:
    return CanaryRecord(
        version=version,
        package_arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/{version}",
        endpoint_name="conveyor-dev",
        state=CanaryState.DEPLOYING,
        state_changed_at=NOW,
        challenger_variant=f"p{version}",
    )


def test_before_any_release_there_is_no_canary_and_no_holder(table: str) -> None:
    assert (latest_canary(table), endpoint_holder(table)) == (None, None)


def test_the_latest_canary_is_the_highest_version_not_the_last_written(table: str) -> None:
    # Given canaries of packages 10 and 9, 9 written last
    for version in (10, 9):
        start_canary(table, canary(version))
    # When the newest is read, with the endpoint lock taken meanwhile (an item of the same family)
    lock_endpoint(table, 9, now=NOW)
    latest = latest_canary(table)
    # Then it is package 10's
    assert latest is not None
    assert latest.version == 10


def test_the_holder_is_the_version_that_locked_the_endpoint_until_it_unlocks(table: str) -> None:
    lock_endpoint(table, 7, now=NOW)
    assert endpoint_holder(table) == 7
    unlock_endpoint(table, 7)
    assert endpoint_holder(table) is None
