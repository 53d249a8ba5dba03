"""A Wait state's Timestamp is a moment of stack time, in UTC, whatever the machine's time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.stack_time import stack_time
from localcloud.adapters.wait_timestamp import wait_timestamp
from localcloud.cloud import LocalCloudError
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

A_DAY = 24 * 60  # minutes
# Ten times the default: a stack hour takes 3.6 s, so a wait that should not happen shows.
SLOW_SCALE = 1e-3

WAIT_UNTIL = {
    "StartAt": "Wait until the deadline",
    "States": {
        "Wait until the deadline": {"Type": "Wait", "TimestampPath": "$.deadline", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def deadline(cloud: LocalCloud, delta: timedelta) -> dict[str, Any]:
    """Execution input naming a moment ``delta`` from stack time now."""
    return {"deadline": (cloud.clock.now() + delta).strftime("%Y-%m-%dT%H:%M:%SZ")}


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time is New York's (UTC-5 or UTC-4)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def stop(cloud: LocalCloud, execution: str) -> None:
    cloud.client("stepfunctions").stop_execution(executionArn=execution)


def test_gap_moto_waits_by_the_real_clock() -> None:
    with small_cloud(without=[stack_time, wait_timestamp], time_scale=SLOW_SCALE) as cloud:
        # A day of stack time later, an hour ago is still 23 hours ahead of the real clock
        cloud.advance(minutes=A_DAY)
        execution = start(cloud, "wait", WAIT_UNTIL, deadline(cloud, -timedelta(hours=1)))
        with pytest.raises(LocalCloudError, match="still running"):
            cloud.run_until_idle(timeout=3)
        stop(cloud, execution)


@pytest.mark.usefixtures("new_york")
def test_gap_moto_reads_the_deadline_as_local_time() -> None:
    with small_cloud(without=[wait_timestamp], time_scale=SLOW_SCALE) as cloud:
        # An hour ago in UTC is three or four hours ahead of New York's local time
        execution = start(cloud, "wait", WAIT_UNTIL, deadline(cloud, -timedelta(hours=1)))
        with pytest.raises(LocalCloudError, match="still running"):
            cloud.run_until_idle(timeout=3)
        stop(cloud, execution)


@pytest.mark.usefixtures("new_york")
def test_fix_a_deadline_in_the_past_of_stack_time_ends_the_wait_at_once() -> None:
    with small_cloud(time_scale=SLOW_SCALE) as cloud:
        cloud.advance(minutes=A_DAY)
        execution = start(cloud, "wait", WAIT_UNTIL, deadline(cloud, -timedelta(hours=1)))
        cloud.run_until_idle(timeout=3)
        assert outcome(cloud, execution)["status"] == "SUCCEEDED"


@pytest.mark.usefixtures("new_york")
def test_fix_a_deadline_ahead_waits_for_that_much_stack_time_scaled() -> None:
    with small_cloud(time_scale=SLOW_SCALE) as cloud:
        cloud.advance(minutes=A_DAY)
        # When the deadline is ten minutes of stack time ahead (0.6 s of wall time here)
        started = time.monotonic()
        execution = start(cloud, "wait", WAIT_UNTIL, deadline(cloud, timedelta(minutes=10)))
        cloud.run_until_idle()
        elapsed = time.monotonic() - started
        result = outcome(cloud, execution)
    # Then the execution waited for it, and not for the real clock
    assert result["status"] == "SUCCEEDED"
    assert 0.5 < elapsed < 3.0
