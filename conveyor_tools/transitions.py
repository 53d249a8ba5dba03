"""State transitions of a workflow run, as Step Functions bills them: each state entered, each retry.

The local cloud compresses waits but not the services' stack time, so a state that polls with a
Retry (an ``...InProgressError`` answer, tried again after a growing wait) retries there far more
often than on AWS. What a release costs on AWS is therefore counted from the run's states entered
plus the retries its own back-off makes over the durations of the service it waits on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def entered(history: list[dict[str, Any]]) -> int:
    """States entered in an execution's history, states inside Map iterations included."""
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        for nested in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if nested:
                yield from _states(nested)


def retrier(definition: dict[str, Any], state_name: str, error: str) -> dict[str, Any]:
    """The Retry of ``state_name`` (at any depth) that handles ``error``."""
    state = dict(_states(definition))[state_name]
    return next(r for r in state.get("Retry", []) if error in r["ErrorEquals"])


def backoff_retries(seconds: float, retry: dict[str, Any]) -> int:
    """Retries a Retry makes before ``seconds`` have passed: its back-off without jitter, capped by
    ``MaxDelaySeconds`` and ``MaxAttempts``."""
    interval = float(retry.get("IntervalSeconds", 1))
    rate = float(retry.get("BackoffRate", 2.0))
    cap = retry.get("MaxDelaySeconds")
    elapsed, retries = 0.0, 0
    while elapsed < seconds and retries < int(retry.get("MaxAttempts", 3)):
        elapsed += interval
        retries += 1
        interval = min(interval * rate, float(cap)) if cap else interval * rate
    return retries
