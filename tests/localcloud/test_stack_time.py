"""Handlers and moto read stack time: ``cloud.advance(...)`` moves every wall clock in the emulation."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.stack_time import stack_time
from tests.conftest import FIXTURES
from tests.localcloud.small_stack import outcome, small_cloud, start

pytestmark = pytest.mark.localcloud

A_DAY = 24 * 60  # minutes
PASS_THROUGH = {"StartAt": "Pass input on", "States": {"Pass input on": {"Type": "Pass", "End": True}}}


def read_clocks(cloud: LocalCloud) -> dict[str, Any]:
    """What the clock fixture function's clocks read when invoked now."""
    arn = cloud.deploy_function("clock", FIXTURES / "functions" / "clock")
    readings: dict[str, Any] = json.loads(cloud.client("lambda").invoke(FunctionName=arn)["Payload"].read())
    return readings


def test_gap_handlers_read_the_real_clock() -> None:
    with small_cloud(without=[stack_time]) as cloud:
        cloud.advance(minutes=A_DAY)
        clocks = read_clocks(cloud)
        assert clocks["time"] < cloud.clock.now().timestamp() - 3600


def test_fix_handlers_read_stack_time() -> None:
    with small_cloud() as cloud:
        # Given a day of stack time has passed
        cloud.advance(minutes=A_DAY)
        # When a handler reads its clocks
        before = cloud.clock.now().timestamp()
        clocks = read_clocks(cloud)
        after = cloud.clock.now().timestamp()
    # Then every one of them reads stack time
    for name in ("now", "now_utc", "utcnow", "time", "time_ns"):
        assert before - 0.001 <= clocks[name] <= after + 0.001, name
    assert clocks["today"] == datetime.fromtimestamp(before).date().isoformat()


def test_fix_real_deadlines_stay_real_and_travel_ends_with_the_cloud() -> None:
    wall_before, monotonic_before = time.time(), time.monotonic()
    with small_cloud() as cloud:
        cloud.advance(minutes=A_DAY)
        assert time.time() - wall_before > 86_000
        assert time.monotonic() - monotonic_before < 600
        assert time.perf_counter() - monotonic_before < 600
    assert abs((time.time() - wall_before) - (time.monotonic() - monotonic_before)) < 1.0


def test_gap_executions_are_stamped_with_real_time() -> None:
    with small_cloud(without=[stack_time]) as cloud:
        cloud.advance(minutes=A_DAY)
        execution = start(cloud, "stamped", PASS_THROUGH)
        cloud.run_until_idle()
        result = outcome(cloud, execution)
        assert result["startDate"].timestamp() < cloud.clock.now().timestamp() - 3600


def test_fix_executions_and_their_history_are_stamped_with_stack_time() -> None:
    with small_cloud() as cloud:
        cloud.advance(minutes=A_DAY)
        before = cloud.clock.now().timestamp()
        execution = start(cloud, "stamped", PASS_THROUGH)
        cloud.run_until_idle()
        after = cloud.clock.now().timestamp()
        result = outcome(cloud, execution)
    assert result["status"] == "SUCCEEDED"
    stamps = [result["startDate"], result["stopDate"], *(event["timestamp"] for event in result["events"])]
    assert all(before - 0.001 <= stamp.timestamp() <= after + 0.001 for stamp in stamps), stamps
