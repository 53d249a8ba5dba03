"""Counting a workflow's billed transitions: states entered, and the retries of a polling back-off."""

from __future__ import annotations

import json

from conveyor_tools.transitions import backoff_retries, entered, retrier
from tests.conftest import ROOT

EDGE = json.loads((ROOT / "statemachines" / "edge_release.asl.json").read_text())


def test_the_back_off_doubles_up_to_its_cap() -> None:
    retry = {"IntervalSeconds": 30, "BackoffRate": 2, "MaxDelaySeconds": 300, "MaxAttempts": 100}
    # 30, 60, 120, 240, then 300 each: 450 s after four retries, 750 after five
    assert backoff_retries(450, retry) == 4
    assert backoff_retries(451, retry) == 5
    assert backoff_retries(0, retry) == 0


def test_the_back_off_stops_at_its_attempts() -> None:
    assert backoff_retries(10_000, {"IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 7}) == 7


def test_a_nested_state_retrier_is_found_by_its_error() -> None:
    retry = retrier(EDGE, "Wait for the compilation", "CompilationInProgressError")
    assert (retry["IntervalSeconds"], retry["MaxDelaySeconds"]) == (30, 300)
    # A 15-minute compilation is looked at 6 times after the first look; a 30-minute rollout 9 times.
    assert backoff_retries(15 * 60, retry) == 6
    assert backoff_retries(30 * 60, retrier(EDGE, "Watch the rollout", "RolloutInProgressError")) == 9


def test_states_entered_count_every_kind_of_state() -> None:
    history = [
        {"type": t}
        for t in ("ExecutionStarted", "TaskStateEntered", "MapStateEntered", "TaskFailed", "ChoiceStateEntered")
    ]
    assert entered(history) == 3
