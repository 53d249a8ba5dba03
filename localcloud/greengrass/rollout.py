"""IoT jobs rolled out on stack time: notified at their rollout rate, aborted, timed out, completed.

A job is a function of stack time, brought up to date whenever it is looked at (and on every
``advance``). Its things are notified on whole minutes from its creation: ``maximumPerMinute`` per
minute (1000 when unset), or with an ``exponentialRate`` ``baseRatePerMinute`` at first, the rate
multiplied by ``incrementFactor`` (never above ``maximumPerMinute``) each time
``rateIncreaseCriteria`` more things were notified, or succeeded, since the last increase. A
notified thing's device applies the job at once and reports SUCCEEDED, FAILED or REJECTED; one that
never reports is TIMED_OUT ``inProgressTimeoutInMinutes`` after it started. After each minute the
``abortConfig`` criteria are evaluated: once at least ``minNumberOfExecutedThings`` executions have
ended and the share of them that failed as ``failureType`` (ALL: FAILED, REJECTED or TIMED_OUT) is at
least ``thresholdPercentage``, the job is CANCELED and its queued and in-progress executions too.
A SNAPSHOT job is COMPLETED when none is queued or in progress; a CONTINUOUS one (a Greengrass
deployment to a thing group) stays IN_PROGRESS, as on AWS.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from localcloud.greengrass.device import Report

DEFAULT_MAXIMUM_PER_MINUTE = 1000
EXECUTED = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT"})
FAILURES = {"FAILED": {"FAILED"}, "REJECTED": {"REJECTED"}, "TIMED_OUT": {"TIMED_OUT"}}
FAILURES["ALL"] = {"FAILED", "REJECTED", "TIMED_OUT"}
COUNTS = {
    "QUEUED": "numberOfQueuedThings",
    "IN_PROGRESS": "numberOfInProgressThings",
    "SUCCEEDED": "numberOfSucceededThings",
    "FAILED": "numberOfFailedThings",
    "REJECTED": "numberOfRejectedThings",
    "CANCELED": "numberOfCanceledThings",
    "TIMED_OUT": "numberOfTimedOutThings",
    "REMOVED": "numberOfRemovedThings",
}


class Receiver(Protocol):
    """The devices that act on job notifications (the simulated fleet)."""

    def receive(self, job: Any, thing_names: list[str]) -> dict[str, Report | None]:
        """Notify each thing of ``job``: its report, None for a device that never reports; a thing left
        out has no device here and never starts."""
        ...


@dataclass
class _Rollout:
    job: Any  # moto's FakeJob, whose fields this keeps
    executions: dict[str, Any]  # moto's FakeJobExecution, by thing name, in notification order
    created: datetime
    rate: int
    minutes_done: int = -1
    counted: int = 0
    """Things notified (or succeeded) up to the last rate increase."""
    notified: set[str] = field(default_factory=set)

    @property
    def rollout(self) -> dict[str, Any]:
        return dict(self.job.job_executions_rollout_config or {})

    def queued(self) -> list[str]:
        return [t for t, e in self.executions.items() if e.status == "QUEUED" and t not in self.notified]

    def in_progress(self) -> list[Any]:
        return [e for e in self.executions.values() if e.status == "IN_PROGRESS"]

    def timeout(self) -> timedelta | None:
        minutes = (self.job.timeout_config or {}).get("inProgressTimeoutInMinutes")
        return None if minutes is None else timedelta(minutes=int(minutes))


class Rollouts:
    """Every job rolling out, by job id; :meth:`settle` brings them all up to stack time."""

    def __init__(self, now: Callable[[], datetime], receiver: Receiver) -> None:
        self._now = now
        self._receiver = receiver
        self._rollouts: dict[str, _Rollout] = {}
        self._lock = threading.RLock()
        self._closed = False

    def start(self, job: Any, executions: dict[str, Any]) -> None:
        """Roll out ``job`` (just created, its executions QUEUED) from stack time now."""
        now = self._now()
        rollout = job.job_executions_rollout_config or {}
        base = (rollout.get("exponentialRate") or {}).get("baseRatePerMinute")
        rate = int(base or rollout.get("maximumPerMinute") or DEFAULT_MAXIMUM_PER_MINUTE)
        job.status, job.created_at, job.last_updated_at, job.completed_at = "IN_PROGRESS", now, now, None
        for execution in executions.values():
            execution.queued_at = execution.last_updated_at = now
            execution.started_at = None
            execution.execution_number = execution.version_number = 1
            execution.approximate_seconds_before_time_out = None
        with self._lock:
            self._rollouts[job.job_id] = state = _Rollout(job, executions, now, rate)
            _count(state)

    def close(self) -> None:
        """Stop rolling out, once a settle under way has finished (the local cloud is closing)."""
        with self._lock:
            self._closed = True

    def settle(self) -> None:
        """Run every job's rollout up to stack time now (nothing, once closed)."""
        with self._lock:
            if self._closed:
                return
            now = self._now()
            for state in self._rollouts.values():
                self._settle(state, now)

    def cancel(self, job_id: str, comment: str | None, reason_code: str | None, *, force: bool) -> bool:
        """Cancel a rolling-out job (CancelJob): its queued executions, and in-progress ones with
        ``force``; False if the job is not one of these."""
        with self._lock:
            state = self._rollouts.get(job_id)
            if state is None or self._closed:
                return False
            self._settle(state, self._now())
            _cancel(state, self._now(), comment, reason_code, force=force)
            return True

    def _settle(self, state: _Rollout, now: datetime) -> None:
        due = math.floor((now - state.created) / timedelta(minutes=1))
        while state.job.status == "IN_PROGRESS":
            minute = self._next_minute(state)
            if minute is None or minute > due:
                state.minutes_done = due
                return
            moment = state.created + timedelta(minutes=minute)
            self._time_out(state, moment)
            self._notify(state, moment)
            _abort_if_met(state, moment)
            _complete_if_done(state, moment)
            state.minutes_done = minute
            _count(state)

    @staticmethod
    def _next_minute(state: _Rollout) -> int | None:
        """The next minute (from the job's creation) when something is due: a notification or a timeout."""
        candidates = [state.minutes_done + 1] if state.queued() else []
        timeout = state.timeout()
        if timeout is not None:
            for execution in state.in_progress():
                ends = execution.started_at + timeout
                candidates.append(math.ceil((ends - state.created) / timedelta(minutes=1)))
        return max(min(candidates), state.minutes_done + 1) if candidates else None

    @staticmethod
    def _time_out(state: _Rollout, moment: datetime) -> None:
        timeout = state.timeout()
        for execution in state.in_progress():
            if timeout is not None and execution.started_at + timeout <= moment:
                _set(execution, "TIMED_OUT", moment)

    def _notify(self, state: _Rollout, moment: datetime) -> None:
        batch = state.queued()[: state.rate]
        if not batch:
            return
        state.notified.update(batch)
        reports = self._receiver.receive(state.job, batch)
        for thing in batch:
            if thing not in reports:
                continue
            execution = state.executions[thing]
            execution.started_at = moment
            report = reports[thing]
            _set(execution, "IN_PROGRESS" if report is None else report.status, moment, report)
        _raise_rate(state)


def _raise_rate(state: _Rollout) -> None:
    """The exponential rate grows each time its criteria are met again since the last increase."""
    exponential = state.rollout.get("exponentialRate")
    if not exponential:
        return
    criteria = exponential.get("rateIncreaseCriteria") or {}
    if "numberOfNotifiedThings" in criteria:
        total, threshold = len(state.notified), int(criteria["numberOfNotifiedThings"])
    else:
        total = sum(e.status == "SUCCEEDED" for e in state.executions.values())
        threshold = int(criteria.get("numberOfSucceededThings", 1))
    maximum = int(state.rollout.get("maximumPerMinute") or DEFAULT_MAXIMUM_PER_MINUTE)
    while total - state.counted >= max(threshold, 1) and state.rate < maximum:
        state.rate = min(maximum, math.ceil(state.rate * float(exponential.get("incrementFactor", 1.0))))
        state.counted += max(threshold, 1)


def _abort_if_met(state: _Rollout, moment: datetime) -> None:
    statuses = [e.status for e in state.executions.values()]
    executed = sum(s in EXECUTED for s in statuses)
    for criteria in (state.job.abort_config or {}).get("criteriaList", []):
        failed = sum(s in FAILURES[criteria["failureType"]] for s in statuses)
        if executed == 0 or executed < int(criteria["minNumberOfExecutedThings"]):
            continue
        percentage = 100.0 * failed / executed
        if percentage >= float(criteria["thresholdPercentage"]):
            comment = (
                f"Aborted by abortConfig: {failed} of {executed} executed things {criteria['failureType']} "
                f"({percentage:.2f}% >= {criteria['thresholdPercentage']}%)"
            )
            _cancel(state, moment, comment, None, force=True)
            return


def _complete_if_done(state: _Rollout, moment: datetime) -> None:
    if state.job.target_selection == "CONTINUOUS":
        return
    if not any(e.status in ("QUEUED", "IN_PROGRESS") for e in state.executions.values()):
        state.job.status, state.job.completed_at, state.job.last_updated_at = "COMPLETED", moment, moment


def _cancel(state: _Rollout, moment: datetime, comment: str | None, reason_code: str | None, *, force: bool) -> None:
    job = state.job
    if job.status in ("CANCELED", "COMPLETED"):
        return
    job.status, job.last_updated_at, job.force = "CANCELED", moment, force
    job.comment = comment if comment is not None else job.comment
    job.reason_code = reason_code if reason_code is not None else job.reason_code
    for execution in state.executions.values():
        if execution.status == "QUEUED" or (force and execution.status == "IN_PROGRESS"):
            _set(execution, "CANCELED", moment)
            execution.force_canceled = execution.force_canceled or force
    _count(state)


def _set(execution: Any, status: str, moment: datetime, report: Report | None = None) -> None:
    execution.status = status
    execution.last_updated_at = moment
    execution.version_number += 1
    if report is not None:
        execution.status_details_map = dict(report.details)


def _count(state: _Rollout) -> None:
    """``jobProcessDetails``, from the executions themselves."""
    counts = dict.fromkeys(COUNTS.values(), 0)
    for execution in state.executions.values():
        counts[COUNTS[execution.status]] += 1
    # Null once the job has been rolled out to every target (IoT's JobProcessDetails.processingTargets).
    rolling_out = bool(state.queued()) and state.job.status == "IN_PROGRESS"
    state.job.job_process_details = {"processingTargets": list(state.job.targets) if rolling_out else None, **counts}
